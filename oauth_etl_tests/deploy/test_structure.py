"""deploy/dagster.yaml and deploy/helm/values.yaml: valid, and in step with the rest."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dagster._core.instance.config import dagster_instance_config

from oauth_etl.app.contract import CONTRACT, default_of
from oauth_etl.oauth.stores import parse_store_uri

from ._config import DEPLOY_README, HELM_VALUES, LOCAL_INSTANCE, PROD_INSTANCE, load_yaml

# dagster_k8s.K8sRunLauncher's instance config fields (dagster-k8s 0.29). dagster-k8s is
# the image's `k8s` extra, not in the dev env: test_image.py validates against the real
# class in the image's venv; this list catches typos without it.
K8S_RUN_LAUNCHER_FIELDS = {
    "instance_config_map",
    "postgres_password_secret",
    "dagster_home",
    "load_incluster_config",
    "kubeconfig_file",
    "job_namespace",
    "job_image",
    "image_pull_policy",
    "image_pull_secrets",
    "service_account_name",
    "env_config_maps",
    "env_secrets",
    "env_vars",
    "volume_mounts",
    "volumes",
    "labels",
    "resources",
    "scheduler_name",
    "security_context",
    "run_k8s_config",
    "fail_pod_on_run_failure",
    "only_allow_user_defined_k8s_config_fields",
    "only_allow_user_defined_env_vars",
}
PG_ENV = {
    "hostname": "DAGSTER_PG_HOST",
    "port": "DAGSTER_PG_PORT",
    "username": "DAGSTER_PG_USERNAME",
    "password": "DAGSTER_PG_PASSWORD",
    "db_name": "DAGSTER_PG_DB",
}
WORKLOAD_IDENTITY_LABEL = {"azure.workload.identity/use": "true"}


def _settings_env_names() -> set[str]:
    names = {variable.name for variable in CONTRACT}
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", n) for n in names), names
    return names


def _camel_to_snake(value: Any) -> Any:
    """Helm's camelCase values to dagster.yaml's snake_case keys (tag values stay as they are)."""
    if isinstance(value, list):
        return [_camel_to_snake(v) for v in value]
    if isinstance(value, dict):
        return {
            (
                k
                if k == "applyLimitPerUniqueValue"
                else re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower()
            ): (_camel_to_snake(v))
            for k, v in value.items()
        }
    return value


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(PROD_INSTANCE)
    return config


@pytest.fixture(scope="module")
def local() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(LOCAL_INSTANCE)
    return config


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    values: dict[str, Any] = load_yaml(HELM_VALUES)
    return values


def test_production_instance_passes_dagsters_own_validation(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(PROD_INSTANCE.read_text())
    # Validates every key against the instance schema, and the concurrency rules.
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "K8sRunLauncher"


def test_production_instance_shape(prod: dict[str, Any], local: dict[str, Any]) -> None:
    postgres_db = prod["storage"]["postgres"]["postgres_db"]
    assert {key: postgres_db[key] for key in PG_ENV} == {k: {"env": v} for k, v in PG_ENV.items()}
    assert prod["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert "config" not in prod["run_coordinator"], "run limits belong in `concurrency:`"
    assert prod["concurrency"] == local["concurrency"]
    assert prod["run_retries"] == local["run_retries"]
    assert prod["run_retries"]["max_retries"] == 2
    # Crashed runs only: step failures are the assets' RetryPolicy's business.
    assert prod["run_retries"]["retry_on_asset_or_op_failure"] is False
    assert prod["run_monitoring"]["enabled"] is True

    launcher = prod["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    config = launcher["config"]
    assert set(config) <= K8S_RUN_LAUNCHER_FIELDS, set(config) - K8S_RUN_LAUNCHER_FIELDS
    assert config["instance_config_map"]
    assert config["labels"] == WORKLOAD_IDENTITY_LABEL


def test_local_concurrency_is_what_the_design_needs(local: dict[str, Any]) -> None:
    # No step pool: tenants run side by side, one run per tenant.
    assert "pools" not in local["concurrency"]
    runs = local["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] >= 2
    assert {"key": "xero/tenant", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in runs[
        "tag_concurrency_limits"
    ]


def test_helm_values_mirror_the_instance(helm: dict[str, Any], prod: dict[str, Any]) -> None:
    concurrency = helm["concurrency"]
    assert concurrency["enabled"] is True
    mirrored = _camel_to_snake({k: v for k, v in concurrency.items() if k != "enabled"})
    assert mirrored == prod["concurrency"]

    daemon = helm["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True
    assert coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"] or {}
    # The chart refuses run limits in both places; Dagster too.
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(queued)
    retries = daemon["runRetries"]
    assert retries["enabled"] is True
    assert retries["maxRetries"] == prod["run_retries"]["max_retries"]
    assert retries["retryOnAssetOrOpFailure"] is False
    monitoring = daemon["runMonitoring"]
    assert monitoring["enabled"] is True
    for key in (
        "start_timeout_seconds",
        "poll_interval_seconds",
        "free_slots_after_run_end_seconds",
    ):
        assert _camel_to_snake(monitoring)[key] == prod["run_monitoring"][key]

    launcher = helm["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["labels"] == WORKLOAD_IDENTITY_LABEL

    postgres = helm["postgresql"]
    assert postgres["enabled"] is False  # an external, managed server
    assert postgres["postgresqlScheme"] == prod["storage"]["postgres"]["postgres_db"]["scheme"]


def test_helm_code_location_env_and_identity(helm: dict[str, Any]) -> None:
    known = _settings_env_names()
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    unknown = set(env) - known
    assert not unknown, f"env vars oauth_etl does not read: {unknown}"
    production = {
        "XERO_LOGIN_URL",
        "XERO_IDENTITY_URL",
        "XERO_API_URL",
        "OAUTH_ETL_TOKEN_STORE",
        "AZURE_STORAGE_ACCOUNT_URL",
        "OAUTH_ETL_CONTAINER",
    }
    assert production <= set(env)
    # Secrets and account keys never as plain values.
    for secret in (
        "XERO_CLIENT_SECRET",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_SAS_TOKEN",
    ):
        assert secret not in env
    assert deployment["envSecrets"], "XERO_CLIENT_ID/XERO_CLIENT_SECRET come from a Secret"
    location = parse_store_uri(env["OAUTH_ETL_TOKEN_STORE"])
    assert location.kind == "keyvault"
    assert env["AZURE_STORAGE_ACCOUNT_URL"].startswith("https://")
    assert env["OAUTH_ETL_CONTAINER"] == default_of("storage", "container")

    assert deployment["labels"] == WORKLOAD_IDENTITY_LABEL
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    account = helm["serviceAccount"]
    assert account["name"] == helm["global"]["serviceAccountName"]
    assert account["annotations"]["azure.workload.identity/client-id"]
    assert helm["dagster-user-deployments"]["serviceAccount"]["create"] is False


def test_deploy_readme_names_every_setting_and_role() -> None:
    text = DEPLOY_README.read_text()
    missing = {name for name in _settings_env_names() if name not in text}
    assert not missing, f"deploy/README.md does not mention {missing}"
    for phrase in (
        "Key Vault Secrets Officer",
        "Storage Blob Data Contributor",
        "docker build -f deploy/Dockerfile",
        "helm upgrade --install",
        "azure.workload.identity/client-id",
        "deploy/ensure-postgres.sh",
    ):
        assert phrase in text, phrase

"""The resources: configured by the environment contract, opened per run, closed after it.

Every contract variable is set in the environment and read back from the resource the
code location builds, resolved by Dagster as at launch: what the README documents is
reachable. Lifecycle tests count real open HTTP clients before and after.
"""

import gc
from dataclasses import fields
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.app import contract
from oauth_etl.app.connection import LeaseLock, XeroConnection
from oauth_etl.app.contract import (
    CONTRACT,
    OAuthSettings,
    StorageSettings,
    Variable,
    XeroApiSettings,
)
from oauth_etl.definitions import defs
from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.resources import XeroApiResource, XeroOAuthResource, build_resources
from oauth_etl.defs.storage import (
    ConnectionString,
    DefaultAzureCredential,
    LandingStorageResource,
    SasToken,
)
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.sensors import xero_tenants_sensor
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.oauth.errors import LockTimeout
from oauth_etl.storage.lease import BlobLeaseLock
from oauth_etl.xero.client import XeroClient

BASE = {"XERO_CLIENT_ID": "cid", "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


SAMPLES = {
    "rescue_location": "file:/tmp/oauth-etl-contract/rescue",
    "token_lock": "locks/x.lock",
    "connections": "contract-set",
    "queue": "contract-queue",  # a queue name Azure accepts
}


def sample(variable: Variable) -> str:
    if variable.field == "max_body_bytes":
        return "4096"  # at least 1024 (WebhookSettings refuses less)
    if variable.kind == "int":
        return "17"
    if variable.field.endswith("_url"):
        return f"https://{variable.field.replace('_', '-')}.example.com"
    if variable.field == "token_store":
        return "file:/tmp/oauth-etl-contract/token.json"
    if variable.field == "grant_type":
        return "client_credentials"
    if variable.field in SAMPLES:  # values the settings classes accept
        return SAMPLES[variable.field]
    if variable.field.endswith("connection_string"):
        return "AccountName=contract;AccountKey=a2V5;EndpointSuffix=core.windows.net"
    if variable.field == "container":
        return "contract-container"
    return f"value-of-{variable.name.lower()}"


def open_http_clients() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, httpx.Client) and not o.is_closed)


def code_location_resources(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    for variable in CONTRACT:
        monkeypatch.delenv(variable.name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return defs().resources or {}


@pytest.mark.parametrize(
    "variable", [v for v in CONTRACT if v.section != "schedules"], ids=lambda v: v.name
)
def test_every_contract_variable_reaches_its_resource_at_launch(
    variable: Variable, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**BASE, variable.name: sample(variable)}
    if variable.name == "AZURE_STORAGE_SAS_TOKEN" or variable.name == "AZURE_STORAGE_ACCOUNT_URL":
        env.pop("AZURE_STORAGE_CONNECTION_STRING")
        env.setdefault("AZURE_STORAGE_ACCOUNT_URL", "https://acct.blob.core.windows.net")
    resources = code_location_resources(monkeypatch, env)
    key = variable.section  # the resource key is the section name
    # Bound by name: the UI shows the variable, and the value is read at launch.
    with dg.build_resources({key: resources[key]}) as built:
        settings = getattr(built, key).settings()
    expected: Any = int(env[variable.name]) if variable.kind == "int" else env[variable.name]
    assert getattr(settings, variable.field) == expected


def test_the_readme_documents_every_variable_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = {
        cells[0].strip("` "): cells[2].strip("` ")
        for line in readme.splitlines()
        if line.startswith("| `") and (cells := line.strip("|").split("|"))
    }
    for variable in CONTRACT:
        default = contract.default_of(variable.section, variable.field)
        assert rows.get(variable.name) == ("" if default is None else str(default)), variable


def test_storage_credential_follows_the_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://acct.blob.core.windows.net"
    cases: list[tuple[dict[str, str], type]] = [
        ({"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}, ConnectionString),
        ({"AZURE_STORAGE_ACCOUNT_URL": url, "AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"}, SasToken),
        ({"AZURE_STORAGE_ACCOUNT_URL": url}, DefaultAzureCredential),
    ]
    for env, shape in cases:
        storage = code_location_resources(monkeypatch, {"XERO_CLIENT_ID": "c", **env})["storage"]
        assert isinstance(storage.credential, shape)


@pytest.mark.parametrize(
    ("unset", "named"),
    [("XERO_CLIENT_ID", "XERO_CLIENT_ID"), ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE")],
)
def test_a_missing_variable_fails_the_launch_naming_it(
    unset: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The definitions still load (`dg check defs` passes on a machine without secrets).
    resources = code_location_resources(monkeypatch, {k: v for k, v in BASE.items() if k != unset})
    key = "oauth" if unset.startswith("XERO") else "storage"
    with pytest.raises(Exception, match=named), dg.build_resources({key: resources[key]}):
        pass


def test_the_command_line_resolves_the_same_settings_as_the_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {**BASE, **{v.name: sample(v) for v in contract.variables("oauth")}}
    resources = code_location_resources(monkeypatch, env)
    with dg.build_resources({"oauth": resources["oauth"]}) as built:
        from_dagster = built.oauth.settings()
    assert from_dagster == contract.settings(OAuthSettings, env)


def test_resource_fields_and_defaults_are_the_contract_settings() -> None:
    pairs: list[tuple[type, type, str]] = [
        (XeroOAuthResource, OAuthSettings, "storage"),
        (XeroApiResource, XeroApiSettings, "oauth"),
    ]
    for resource, settings, dependency in pairs:
        declared = {n: f.default for n, f in resource.model_fields.items() if n != dependency}
        assert declared == {f.name: f.default for f in fields(settings)}
    assert {v.field for v in contract.variables("storage")} <= {
        f.name for f in fields(StorageSettings)
    }


def test_resources_never_show_a_secret_in_repr_or_str_or_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "XERO_CLIENT_ID": "cid",
        "XERO_CLIENT_SECRET": "canary-client-secret",
        "AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=canary-storage-key;",
    }
    resources = code_location_resources(monkeypatch, env)
    values = build_resources(env, env_vars=False)
    for resource in [*resources.values(), *values.values()]:
        for text in (repr(resource), str(resource)):
            assert "canary" not in text, text
    for resource in resources.values():
        assert "canary" not in str(resource.model_dump())  # EnvVar names only


def test_a_busy_lease_times_out_as_a_lock_timeout_naming_the_blob(
    container: ContainerClient,
) -> None:
    blob = container.get_blob_client("_locks/xero-token.lock")
    holder = BlobLeaseLock(blob, lease_seconds=15, wait_timeout=5)
    waiter = LeaseLock(
        BlobLeaseLock(blob, lease_seconds=15, wait_timeout=1.0, poll_interval=0.2), 1.0
    )
    with holder.hold(), pytest.raises(LockTimeout, match=r"xero-token\.lock"), waiter.hold():
        pass
    with waiter.hold():  # free again: taken at once
        pass


def test_resources_close_every_client_at_teardown(local_env: dict[str, str]) -> None:
    resources = build_resources(env_vars=False)
    before = open_http_clients()
    with dg.build_resources({k: resources[k] for k in ("storage", "oauth", "xero")}) as built:
        assert built.xero.connections()
        client = built.xero.client()
        assert open_http_clients() > before
    assert open_http_clients() == before
    with pytest.raises(RuntimeError, match="closed"):
        client.connections()


def test_the_tenants_sensor_leaks_no_client_per_tick(local_env: dict[str, str]) -> None:
    xero = build_resources(env_vars=False)["xero"]
    assert isinstance(xero, XeroApiResource)
    with dg.instance_for_test() as instance:
        before = open_http_clients()
        for _ in range(3):
            with dg.build_sensor_context(instance=instance, resources={"xero": xero}) as context:
                result = xero_tenants_sensor(context)
            assert isinstance(result, dg.SensorResult)
        assert open_http_clients() == before


def test_a_connection_closed_after_use_opens_again(local_env: dict[str, str]) -> None:
    connection = XeroConnection(contract.settings(OAuthSettings))
    first = connection.token_manager().access_token()
    connection.close()
    assert connection.token_manager().access_token() == first  # cached in the store
    connection.close()


def test_one_client_and_one_rate_budget_per_tenant_serve_every_step_of_a_run(
    local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[XeroClient] = []
    build = XeroClient.__init__

    def counting(self: XeroClient, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        build(self, *args, **kwargs)

    monkeypatch.setattr(XeroClient, "__init__", counting)
    resources = build_resources(env_vars=False)
    with dg.instance_for_test() as instance:
        assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
        tenant = instance.get_dynamic_partitions(TENANTS.name or "")[0]
        created.clear()
        assets = [a for a in ENDPOINT_ASSETS if a.key.path[-1] in ("contacts", "invoices", "items")]
        result = dg.materialize(
            assets, partition_key=tenant, instance=instance, resources=resources
        )
    assert result.success
    assert len(created) == 1
    calls = sum(
        m.metadata["api_calls"].value
        for a in assets
        for m in result.asset_materializations_for_node(a.node_def.name)
    )
    assert created[0].budget(tenant).calls == calls  # the three steps paced as one


def test_the_api_client_is_closed_when_the_io_manager_fails_before_reading(
    local_env: dict[str, str],
) -> None:
    resources = build_resources(env_vars=False)
    missing = LandingStorageResource(
        credential=resources["storage"].credential,
        container="never-created-container",
        create_container=False,
    )
    resources["landing_io_manager"] = BlobLandingIOManager(storage=missing)
    with dg.instance_for_test() as instance:
        assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
        tenant = instance.get_dynamic_partitions(TENANTS.name or "")[0]
        before = open_http_clients()
        result = dg.materialize(
            [ENDPOINT_ASSETS[0]],
            partition_key=tenant,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
    assert not result.success
    assert "never-created-container" in str(
        result.get_step_failure_events()[0].step_failure_data.error
    )
    assert open_http_clients() == before

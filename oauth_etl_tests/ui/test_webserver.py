"""The code location as a person sees it: `dagster-webserver` over the real stack.

Starts the webserver on the project's workspace.yaml against a sandbox Xero,
Azurite and a file token store authorized without a browser, then checks through
the GraphQL API that every asset, check, schedule and sensor is there, that
runs launched from the UI's API land data, and that no secret reaches the UI.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from oauth_etl.app.connection import open_from_environment
from oauth_etl.defs.reports.assets import REPORT_ASSETS
from oauth_etl.defs.reports.organisation import xero_report_organisation
from oauth_etl.defs.reports.tables import REPORT_TABLE_ASSETS
from oauth_etl.tables.model import table_names
from oauth_etl.xero.catalog import CATALOG
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import AZURITE_KEY, Azurite
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.ui.webserver import (
    ASSET_JOB,
    ASSET_NODES_QUERY,
    CHECK_EXECUTIONS_QUERY,
    RESOURCES_QUERY,
    RUN_QUERY,
    Webserver,
    latest_materialization_metadata,
    launch_assets,
    partition_keys,
    repository,
    run_events,
    run_to_success,
    running_webserver,
    write_dagster_home,
)

pytestmark = pytest.mark.timeout(180)

TENANTS_KEY = ("xero", "tenants")
CONTACTS_KEY = ("xero", "contacts")
SCHEDULES = {
    "xero_daily",
    "xero_token_keepalive_weekly",
    "xero_token_health_daily",
    "landing_sweep_weekly",
    "xero_tables_upkeep_weekly",
}
SENSORS = {
    "xero_tenants_sensor",
    "xero_tables_after_extract",
    "xero_reports_after_tables",
    "xero_webhooks_sensor",
}


def token_secrets(token_file: Path) -> set[str]:
    data = orjson.loads(token_file.read_bytes())
    return {str(data[k]) for k in ("access_token", "refresh_token") if data.get(k)}


@pytest.fixture
def client_secret() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def environment(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path, client_secret: str
) -> dict[str, str]:
    handle = sandbox_factory(
        "--tenants", "2", "--records", "250", "--no-limits", client_secret=client_secret
    )
    workdir = tmp_path / "oauth_etl"
    workdir.mkdir(mode=0o700)
    env = local_environment(handle.sandbox, azurite, workdir)
    # A container of its own, so other tests' batches never show up here.
    env["OAUTH_ETL_CONTAINER"] = f"ui-{secrets.token_hex(6)}"
    with open_from_environment(env) as (connection, _):
        connection.authorize(mode="unattended", output=lambda _: None)
    return env


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path) -> Iterator[Webserver]:
    home = write_dagster_home(tmp_path / "dagster_home")
    with running_webserver(environment, home, timeout=60.0) as webserver:
        yield webserver


def test_webserver_lists_launches_and_hides_secrets(
    server: Webserver, environment: dict[str, str], client_secret: str
) -> None:
    token_file = Path(environment["OAUTH_ETL_TOKEN_STORE"].removeprefix("file:"))
    known_secrets = {client_secret, AZURITE_KEY, *token_secrets(token_file)}

    # What the UI lists: every asset, check, schedule and sensor of the definitions.
    repo = repository(server)
    assert ASSET_JOB in repo.jobs
    assert repo.schedules == SCHEDULES
    assert repo.sensors == SENSORS

    nodes = server.graphql(ASSET_NODES_QUERY)["assetNodes"]
    keys = {tuple(n["assetKey"]["path"]) for n in nodes}
    tables = {("xero_tables", name) for name in table_names()}
    expected_keys = {TENANTS_KEY, *(("xero", e.name) for e in CATALOG), *tables}
    reports = {
        tuple(key.path)
        for asset in (xero_report_organisation, *REPORT_ASSETS, *REPORT_TABLE_ASSETS)
        for key in asset.keys
    }
    assert len(CATALOG) == 27 and len(tables) == 27 + 6  # + the line-item child tables
    assert reports and keys == expected_keys | reports
    checks = {
        (tuple(n["assetKey"]["path"]), c["name"])
        for n in nodes
        for c in n["assetChecksOrError"].get("checks", [])
    }
    assert (TENANTS_KEY, "xero_token_health") in checks
    assert {(("xero", e.name), "landed_batch_valid") for e in CATALOG} <= checks

    # The resources view shows secrets as the name of their variable, never the value.
    resources = server.graphql(RESOURCES_QUERY, {"selector": repo.selector})
    details = resources["allTopLevelResourceDetailsOrError"]
    assert details["__typename"] == "ResourceDetailsList"
    configured = {
        (r["name"], v["key"]): (v["type"], v["value"])
        for r in details["results"]
        for v in r["configuredValues"]
    }
    assert configured[("oauth", "client_secret")] == ("ENV_VAR", "XERO_CLIENT_SECRET")
    # The credential is a discriminated union: shown as its JSON, the secret as {"env": ...}.
    _, credential = configured[("storage", "credential")]
    assert '{"env": "AZURE_STORAGE_CONNECTION_STRING"}' in credential

    # Unpartitioned: xero/tenants registers the tenant partitions.
    tenants_run = launch_assets(server, repo, [TENANTS_KEY])
    run_to_success(server, tenants_run)
    tenants = partition_keys(server, CONTACTS_KEY)
    assert len(tenants) == 2

    # Partitioned: one tenant's contacts, with its landed-batch check.
    tenant = tenants[0]
    contacts_run = launch_assets(server, repo, [CONTACTS_KEY], partition=tenant)
    run_to_success(server, contacts_run)
    run = server.graphql(RUN_QUERY, {"runId": contacts_run})["runOrError"]
    assert {"key": "dagster/partition", "value": tenant} in run["tags"]

    metadata = latest_materialization_metadata(server, CONTACTS_KEY, tenant)
    assert metadata["dagster/row_count"] > 0
    assert metadata["batch_uri"].startswith(f"http://127.0.0.1:{environment_port(environment)}")
    assert f"/xero/{tenant}/contacts/" in metadata["batch_uri"]
    assert metadata["tenant_id"] == tenant

    executions = server.graphql(
        CHECK_EXECUTIONS_QUERY,
        {"assetKey": {"path": list(CONTACTS_KEY)}, "checkName": "landed_batch_valid"},
    )["assetCheckExecutions"]
    assert [e["status"] for e in executions if e["runId"] == contacts_run] == ["SUCCEEDED"]

    for run_id in (tenants_run, contacts_run):
        events = run_events(server, run_id)
        assert any(e["__typename"] == "MaterializationEvent" for e in events)

    # Tokens may have rotated during the runs: both the first and the current set count.
    known_secrets |= token_secrets(token_file)
    seen = "\n".join(server.responses)
    leaked = [f"{len(s)}-char secret" for s in known_secrets if s in seen]
    assert not leaked, f"secrets in GraphQL responses: {leaked}"


def environment_port(environment: dict[str, str]) -> str:
    """Azurite's port, from the connection string's BlobEndpoint."""
    connection = environment["AZURE_STORAGE_CONNECTION_STRING"]
    endpoint = next(p for p in connection.split(";") if p.startswith("BlobEndpoint="))
    return endpoint.split(":")[-1].split("/")[0]

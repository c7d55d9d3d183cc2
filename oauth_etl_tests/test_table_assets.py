"""The table assets on real parts: sandbox Xero over HTTP, Azurite (delta-rs through the
startFrom relay), Dagster runs.

First load and an incremental run give one row per distinct id and pass the check; the
metadata says what each merge did; replaying every batch changes nothing; a row deleted
behind the table's back fails the check.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from deltalake import DeltaTable

from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.tables.checks import TABLE_CHECKS
from oauth_etl.defs.tables.resources import DeltaTablesResource, build_table_resources
from oauth_etl.defs.tables.upkeep import xero_tables_after_extract, xero_tables_upkeep_job
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.tables.model import TENANT, table_names
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.local_services import LOOPBACK, Azurite
from oauth_etl_tests.cli.test_startup import probe
from oauth_etl_tests.conftest import SandboxHandle

ENDPOINTS = {"invoices": "Invoices", "contacts": "Contacts", "tax_rates": "TaxRates"}
ID_FIELDS = {"invoices": "InvoiceID", "contacts": "ContactID", "tax_rates": "Name"}


@pytest.fixture(scope="module")
def relay(azurite: Azurite) -> Iterator[StartFromRelay]:
    with StartFromRelay(azurite.port) as started:
        yield started


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def landing_assets() -> list[dg.AssetsDefinition]:
    return [a for a in ENDPOINT_ASSETS if a.key.path[-1] in ENDPOINTS]


def table_assets() -> list[dg.AssetsDefinition]:
    return [a for a in TABLE_ASSETS if any(k.path[-1] in ENDPOINTS for k in a.keys)]


def table_checks() -> list[dg.AssetChecksDefinition]:
    return [c for c in TABLE_CHECKS if any(k.asset_key.path[-1] in ENDPOINTS for k in c.check_keys)]


def materialized(result: dg.ExecuteInProcessResult, name: str) -> dict[str, Any]:
    events = result.asset_materializations_for_node(f"xero_tables__{name}")
    found = [e for e in events if e.asset_key == table_key(name)]
    assert len(found) == 1, name
    return {k: getattr(v, "value", v) for k, v in found[0].metadata.items()}


def child_metadata(result: dg.ExecuteInProcessResult, name: str) -> dict[str, Any]:
    events = result.asset_materializations_for_node("xero_tables__invoices")
    (found,) = [e for e in events if e.asset_key == table_key(name)]
    return {k: getattr(v, "value", v) for k, v in found.metadata.items()}


def sandbox_records(sandbox: SandboxHandle, tenant_id: str, path: str) -> list[dict[str, Any]]:
    response = sandbox.admin.get(
        "/_sandbox/records", params={"tenant_id": tenant_id, "endpoint": path}
    )
    records: list[dict[str, Any]] = response.json()
    return records


@pytest.mark.timeout(600)
def test_tables_merge_landed_batches_check_and_replay(
    sandbox: SandboxHandle,
    local_env: dict[str, str],
    relay: StartFromRelay,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The contract's way to send delta-rs through the relay (Azurite 3.35 ignores startFrom).
    monkeypatch.setenv(
        "OAUTH_ETL_TABLES_ENDPOINT_URL", f"http://{LOOPBACK}:{relay.port}/devstoreaccount1"
    )
    resources = build_resources(env_vars=False)
    storage = resources["storage"]
    assert isinstance(storage, LandingStorageResource)
    resources.update(build_table_resources(storage, env_vars=False))
    tables = resources["tables"]
    assert isinstance(tables, DeltaTablesResource)
    assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
    tenant_id = instance.get_dynamic_partitions(TENANTS.name or "")[0]
    everything = [*landing_assets(), *table_assets(), *table_checks()]
    keys = [k for a in [*landing_assets(), *table_assets()] for k in a.keys]

    def run(selection: Any = keys, on: dg.DagsterInstance = instance) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            everything,
            selection=selection,
            partition_key=tenant_id,
            instance=on,
            resources=resources,
        )
        assert result.success
        return result

    def expected_ids(name: str) -> set[Any]:
        records = sandbox_records(sandbox, tenant_id, ENDPOINTS[name])
        return {r[ID_FIELDS[name]] for r in records}

    # First load: one row per id, every column typed, the check passes.
    first = run()
    for name in ENDPOINTS:
        metadata = materialized(first, name)
        assert metadata["dagster/row_count"] == len(expected_ids(name)) > 0, name
        assert metadata["rows_inserted"] == len(expected_ids(name)), name
        assert metadata["batches_merged"] == 1
        assert metadata["unparsed_values"] == 0
        columns = {c.name: c.type for c in metadata["dagster/column_schema"].columns}
        assert columns[TENANT] == "string"
        assert isinstance(metadata["delta_version"], int)
    columns = {
        c.name: c.type for c in materialized(first, "invoices")["dagster/column_schema"].columns
    }
    assert columns["UpdatedDateUTC"] == "timestamp[us, tz=UTC]"
    assert columns["Total"] == "decimal128(28, 10)"
    invoices = sandbox_records(sandbox, tenant_id, "Invoices")
    lines = child_metadata(first, "invoice_line_items")
    assert lines["dagster/row_count"] == sum(len(r.get("LineItems") or []) for r in invoices) > 0
    checks = first.get_asset_check_evaluations()
    assert len(checks) == len(ENDPOINTS) and all(c.passed for c in checks), checks

    # A successful extraction run asks for its tenant's tables (the sensor's answer).
    context = dg.build_run_status_sensor_context(
        sensor_name="xero_tables_after_extract",
        dagster_instance=instance,
        dagster_run=first.dagster_run,
        dagster_event=first.get_run_success_event(),
    )
    request = xero_tables_after_extract(context)
    assert isinstance(request, dg.RunRequest)
    assert (request.partition_key, request.run_key) == (tenant_id, first.run_id)

    # Incremental: 3 invoices change, 2 are new; only the new batch is merged.
    sandbox.post(
        "/_sandbox/mutate", {"tenant_id": tenant_id, "endpoint": "Invoices", "modify": 3, "add": 2}
    )
    second = run()
    metadata = materialized(second, "invoices")
    assert metadata["batches_merged"] == 1
    assert (metadata["rows_inserted"], metadata["rows_updated"]) == (2, 3)
    assert metadata["dagster/row_count"] == len(expected_ids("invoices"))
    version = metadata["delta_version"]
    assert materialized(second, "contacts")["rows_inserted"] == 0
    assert all(c.passed for c in second.get_asset_check_evaluations())

    # Replay of every landed batch (a fresh instance: no record of the last merged batch).
    with dg.instance_for_test() as fresh:
        fresh.add_dynamic_partitions(TENANTS.name or "", [tenant_id])
        replay = run([k for a in table_assets() for k in a.keys], fresh)
    metadata = materialized(replay, "invoices")
    assert metadata["batches_merged"] == 2
    assert metadata["records_newer"] == 0
    assert metadata["delta_version"] == version
    assert metadata["dagster/row_count"] == len(expected_ids("invoices"))

    # A row lost behind the table's back: the check says so.
    dt = DeltaTable(tables.store.uri("invoices"), storage_options=tables.store.storage_options())
    gone = sorted(expected_ids("invoices"))[0]
    dt.delete(f"\"InvoiceID\" = '{gone}'")
    # The next run merges nothing new (no batch landed since) and its check fails.
    (invoice_tables,) = [a for a in table_assets() if table_key("invoices") in a.keys]
    third = run(list(invoice_tables.keys))
    (evaluation,) = third.get_asset_check_evaluations()
    assert not evaluation.passed
    found = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    assert found["table_ids"] == found["landed_ids"] - 1

    # `oauth-etl table show`, on the same contract, without importing Dagster.
    shown = probe({}, "table", "show", "xero/invoices", "--tenant", tenant_id)
    assert shown.returncode == 0, shown.stderr
    rows = len(expected_ids("invoices")) - 1
    assert f"{rows} row(s) for tenant {tenant_id}" in shown.stdout
    assert "  InvoiceID " in shown.stdout and "versions (newest first):" in shown.stdout
    loaded = next(line for line in shown.stdout.splitlines() if line.startswith("loaded:"))
    assert "dagster" not in loaded, loaded

    # The weekly upkeep over every table: the merged ones kept up, the others skipped.
    upkept = xero_tables_upkeep_job.execute_in_process(
        instance=instance, resources={"tables": tables}
    )
    assert upkept.success
    (output,) = [
        e for e in upkept.all_node_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT
    ]
    figures = {k: getattr(v, "value", v) for k, v in output.step_output_data.metadata.items()}
    merged = 4  # invoices, its line items, contacts, tax_rates
    assert (figures["tables"], figures["tables_missing"]) == (merged, len(table_names()) - merged)
    assert figures["retention_days"] == 7
    checkpoint = "tables/xero/invoices/_delta_log/_last_checkpoint"  # written by upkeep
    assert storage.container_client().get_blob_client(checkpoint).exists()
    after = DeltaTable(tables.store.uri("invoices"), storage_options=tables.store.storage_options())
    assert after.to_pyarrow_dataset().count_rows() == len(expected_ids("invoices")) - 1

"""Running the report assets through Dagster against a sandbox and Azurite (test helper)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from oauth_etl.app.connection import open_from_environment
from oauth_etl.defs.reports.assets import REPORT_ASSETS
from oauth_etl.defs.reports.checks import REPORT_CHECKS
from oauth_etl.defs.reports.organisation import xero_report_organisation
from oauth_etl.defs.reports.tables import REPORT_TABLE_ASSETS
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.tables.resources import DeltaTablesResource, build_table_resources
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.tables.location import TableStore
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.reports.catalog import granular_scopes
from oauth_etl.xero.scopes import DEFAULT_SCOPES, JOURNALS_SCOPE
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import LOOPBACK, Azurite
from oauth_etl_tests import canary
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle

# The endpoint tables the checks read besides the reports: accounts (system accounts),
# journals and their lines (the ledger).
LEDGER = ("accounts", "journals")


@dataclass
class ReportRun:
    """A Dagster instance, resources and the tenants, ready to materialize reports."""

    instance: dg.DagsterInstance
    resources: dict[str, Any]
    tenants: list[str]
    sandbox: SandboxHandle

    @property
    def store(self) -> TableStore:
        tables = self.resources["tables"]
        assert isinstance(tables, DeltaTablesResource)
        return tables.store

    def definitions(self) -> list[Any]:
        ledger = [a for a in ENDPOINT_ASSETS if a.key.path[-1] in LEDGER]
        ledger_tables = [a for a in TABLE_ASSETS if a.keys & {table_key(n) for n in LEDGER}]
        return [
            *ledger,
            *ledger_tables,
            xero_report_organisation,
            *REPORT_ASSETS,
            *REPORT_TABLE_ASSETS,
            *REPORT_CHECKS,
        ]

    def ledger(self, tenant: str) -> None:
        keys = [k for a in self.definitions()[: 2 * len(LEDGER)] for k in a.keys]
        self.materialize(tenant, keys)

    def reports(
        self,
        tenant: str,
        names: tuple[str, ...] | None = None,
        *,
        succeed: bool = True,
        **config: Any,
    ) -> dg.ExecuteInProcessResult:
        """The organisation facts, the named reports (None: all) and their tables."""
        keys = [xero_report_organisation.key]
        for asset in [*REPORT_ASSETS, *REPORT_TABLE_ASSETS]:
            if names is None or any(
                k.path[-1].removesuffix("_monthly") in names for k in asset.keys
            ):
                keys += list(asset.keys)
        run_config = {
            "ops": {
                a.node_def.name: {"config": config}
                for a in REPORT_ASSETS
                if config and (names is None or a.key.path[-1] in names)
            }
        }
        return self.materialize(tenant, keys, run_config, succeed=succeed)

    def materialize(
        self,
        tenant: str,
        keys: list[dg.AssetKey],
        run_config: dict[str, Any] | None = None,
        *,
        succeed: bool = True,
    ) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            self.definitions(),
            selection=keys,
            partition_key=tenant,
            instance=self.instance,
            resources=self.resources,
            run_config=run_config or {},
            raise_on_error=False,
        )
        assert result.success or not succeed
        return result


def metadata(result: dg.ExecuteInProcessResult, report: str) -> dict[str, Any]:
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key is not None and e.asset_key.path == ["xero_reports", report]
    ]
    assert len(events) == 1, report
    found = events[0].materialization.metadata
    return {k: getattr(v, "value", v) for k, v in found.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


UNPACED_MINUTE = 100_000
# The sandbox of a report run: no 429s and a minute limit the run never reaches.
SANDBOX_ARGS = ("--no-limits", "--minute-limit", str(UNPACED_MINUTE))


def _unpaced_budget(client: XeroClient, tenant_id: str) -> RateBudget:
    return RateBudget(
        tenant_id,
        per_minute=UNPACED_MINUTE,
        max_in_flight=client.max_in_flight,
        max_wait=client.max_rate_wait,
    )


@contextmanager
def report_run(
    sandbox: SandboxHandle,
    azurite: Azurite,
    relay_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scopes: list[str] | None = None,
) -> Iterator[ReportRun]:
    """The environment contract pointed at `sandbox` and Azurite, authorized with every
    report scope (and Journals: the ledger check) unless `scopes` says otherwise, the
    tenants registered."""
    environment = local_environment(sandbox.sandbox, azurite, tmp_path)
    environment["OAUTH_ETL_CONTAINER"] = f"test-{uuid.uuid4().hex[:20]}"
    environment["OAUTH_ETL_TABLES_ENDPOINT_URL"] = (
        f"http://{LOOPBACK}:{relay_port}/devstoreaccount1"
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # A report run is ~70 calls a tenant: at Xero's 60 a minute the client would rightly
    # wait out the minute. These sandboxes run with a minute limit of UNPACED_MINUTE (see
    # SANDBOX_ARGS), and the client's budget follows it: pacing is tested in xero/.
    monkeypatch.setattr(XeroClient, "_default_budget", _unpaced_budget)
    scopes = scopes or [*DEFAULT_SCOPES, *granular_scopes(), JOURNALS_SCOPE]
    with open_from_environment() as (connection, _):
        connection.authorize(mode="unattended", scopes=scopes, output=lambda _: None)
    resources = build_resources(env_vars=False)
    resources.update(build_table_resources(resources["storage"], env_vars=False))
    with dg.instance_for_test() as instance:
        assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
        tenants = list(instance.get_dynamic_partitions(TENANTS.name or ""))
        try:
            yield ReportRun(instance, resources, tenants, sandbox)
        finally:
            container = resources["storage"].container_client()
            if container.exists():
                canary.scan_container(container)
                container.delete_container()


def value(evaluation: dg.AssetCheckEvaluation, key: str) -> Any:
    """A check's metadata value."""
    return getattr(evaluation.metadata[key], "value", None)


ReportRuns = Callable[..., AbstractContextManager[ReportRun]]


@pytest.fixture
def report_runs(
    sandbox_factory: SandboxFactory,
    azurite: Azurite,
    relay: StartFromRelay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> ReportRuns:
    """`with report_runs("--tenants", "2", scopes=...) as run:`: a sandbox started with those
    flags (plus SANDBOX_ARGS unless `limits=True`) and a report run on it."""

    def start(
        *flags: str, scopes: list[str] | None = None, limits: bool = False
    ) -> AbstractContextManager[ReportRun]:
        sandbox = sandbox_factory(*flags, *(() if limits else SANDBOX_ARGS))
        return report_run(sandbox, azurite, relay.port, tmp_path, monkeypatch, scopes=scopes)

    return start

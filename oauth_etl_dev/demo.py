"""`oauth-etl demo`: the whole job on local defaults (`oauth-etl ui` shares its stack).

Both start a sandbox Xero and Azurite on free loopback ports, authorize against the
sandbox without a browser, and point the environment contract at them; the demo
then materializes the daily job's assets (an app created in 2026: no opt-in endpoints)
and their Delta tables for every tenant and prints what landed and each table's rows
(delta-rs reaches Azurite through the startFrom relay, oauth_etl_dev/azurite_relay.py),
the UI runs
`dagster dev` until Ctrl-C. Services are stopped on exit, failure or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import dagster as dg
import httpx

from oauth_etl.app.connection import open_from_environment
from oauth_etl.app.contract import default_of
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.tables.checks import TABLE_CHECKS
from oauth_etl.defs.tables.resources import DeltaTablesResource, build_table_resources
from oauth_etl.defs.xero.assets import DEFAULT_ASSETS, ENDPOINT_ASSETS
from oauth_etl.defs.xero.checks import BATCH_CHECKS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.storage.reader import latest_batch
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT, table_spec
from oauth_etl.tables.writes import open_table
from oauth_etl.xero.catalog import CATALOG
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.demo_reports import SANDBOX_ARGS as REPORT_SANDBOX_ARGS
from oauth_etl_dev.demo_reports import run_reports
from oauth_etl_dev.demo_webhooks import show_webhook_landing
from oauth_etl_dev.local_services import (
    AZURITE_ACCOUNT,
    LOOPBACK,
    PROJECT_ROOT,
    Azurite,
    Sandbox,
    running,
    start_azurite,
    start_sandbox,
)

Echo = Callable[[str], None]
LOCAL_HOME = PROJECT_ROOT / ".oauth_etl"
# The demo prints each endpoint's progress line and its own summary; Dagster's step
# logs only when something goes wrong.
QUIET = {
    "loggers": {
        "console": {"config": {"log_level": "WARNING"}},
        "progress": {"config": {}},
    }
}


class _ProgressHandler(logging.Handler):
    """Prints the assets' progress lines (`xero/<endpoint>: [####...] page ...`)."""

    def __init__(self, echo: Echo) -> None:
        super().__init__(logging.INFO)
        self.echo = echo

    def emit(self, record: logging.LogRecord) -> None:
        message = str(getattr(record, "dagster_meta", {}).get("orig_message", ""))
        if message.startswith("xero/") and ": [" in message:
            self.echo("  " + message)


def progress_logger(echo: Echo) -> dg.LoggerDefinition:
    def build(_: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.getLogger("oauth_etl_dev.demo.progress")
        logger.handlers = [_ProgressHandler(echo)]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return logger

    return dg.LoggerDefinition(build, description="progress lines of the demo")


@dataclass(frozen=True)
class LocalStack:
    sandbox: Sandbox
    azurite: Azurite
    environment: dict[str, str]


class Environment(dict[str, str]):
    """Environment variables whose repr names them, never their values: a failing test's
    traceback prints its arguments, and these hold the client secret."""

    def __repr__(self) -> str:
        return f"Environment({', '.join(sorted(self))})"


def local_environment(sandbox: Sandbox, azurite: Azurite, workdir: Path) -> Environment:
    """The environment contract, pointed at the local sandbox, Azurite and a file store."""
    return Environment(
        {
            "XERO_CLIENT_ID": sandbox.client_id,
            "XERO_CLIENT_SECRET": sandbox.client_secret or "",
            "XERO_LOGIN_URL": sandbox.url,
            "XERO_IDENTITY_URL": sandbox.url,
            "XERO_API_URL": sandbox.url,
            "OAUTH_ETL_TOKEN_STORE": f"file:{workdir / 'xero-token.json'}",
            # Azurite, explicitly: the landing account has no default.
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "OAUTH_ETL_CONTAINER": default_of("storage", "container"),
        }
    )


@contextmanager
def local_stack(workdir: Path, sandbox_args: list[str], echo: Echo) -> Iterator[LocalStack]:
    """Sandbox + Azurite + a fresh authorization, all stopped on exit."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    azurite = start_azurite()
    try:
        sandbox = start_sandbox(
            client_id="demo-client",
            client_secret=secrets.token_urlsafe(24),
            extra_args=sandbox_args,
        )
    except Exception:
        azurite.stop()
        raise
    with running(sandbox, azurite), StartFromRelay(azurite.port) as relay:
        echo(f"sandbox Xero at {sandbox.url}, Azurite at {azurite.service.url}")
        environment = local_environment(sandbox, azurite, workdir)
        # delta-rs through the relay: Azurite 3.35 ignores the startFrom its log listing needs.
        relay_url = f"http://{LOOPBACK}:{relay.port}/{AZURITE_ACCOUNT}"
        environment["OAUTH_ETL_TABLES_ENDPOINT_URL"] = relay_url
        os.environ.update(environment)
        with open_from_environment(environment) as (connection, _):
            connection.authorize(mode="unattended", output=echo)
        yield LocalStack(sandbox, azurite, environment)


def sandbox_record_counts(sandbox_url: str) -> dict[tuple[str, str], int]:
    """(tenant, endpoint path) -> records the sandbox holds, from its admin API."""
    stats = httpx.get(f"{sandbox_url}/_sandbox/stats", timeout=10.0).json()
    counts: dict[tuple[str, str], int] = {}
    for tenant_id, per_endpoint in stats["records"].items():
        for path, count in per_endpoint.items():
            counts[(tenant_id, path)] = int(count)
    return counts


def run_demo(*, tenants: int, records: int, echo: Echo, home: Path = LOCAL_HOME) -> int:
    """Materialize every asset for every tenant; print and verify what landed."""
    # An app created in 2026 (`--scopes new-app`): the daily job's endpoints, no opt-in ones;
    # books long enough for the statements' 12 months (demo_reports.SANDBOX_ARGS).
    sandbox_args = ["--tenants", str(tenants), "--records", str(records), "--scopes", "new-app"]
    sandbox_args += REPORT_SANDBOX_ARGS
    with local_stack(home / "demo", sandbox_args, echo) as stack:
        resources = build_resources(stack.environment, env_vars=False)
        resources.update(
            build_table_resources(resources["storage"], stack.environment, env_vars=False)
        )
        job = dg.Definitions(
            assets=[xero_tenants, *ENDPOINT_ASSETS, *TABLE_ASSETS],
            asset_checks=[*BATCH_CHECKS, *TABLE_CHECKS],
            resources=resources,
            loggers={"console": dg.colored_console_logger, "progress": progress_logger(echo)},
        ).resolve_implicit_global_asset_job_def()
        instance = dg.DagsterInstance.ephemeral()
        job.execute_in_process(
            instance=instance, asset_selection=[xero_tenants.key], run_config=QUIET
        )
        tenant_ids = instance.get_dynamic_partitions(TENANTS.name or "")
        landing_keys = [asset.key for asset in DEFAULT_ASSETS]
        tables = [table_key(key.path[-1]) for key in landing_keys]
        failed_checks: list[str] = []
        for tenant_id in tenant_ids:
            echo(
                f"extracting {len(DEFAULT_ASSETS)} endpoints for tenant {tenant_id}, "
                "then merging their tables ..."
            )
            result = job.execute_in_process(
                instance=instance,
                partition_key=tenant_id,
                # A table's multi-asset writes its child tables too: selected with it.
                asset_selection=[
                    *landing_keys,
                    *(k for a in TABLE_ASSETS if a.keys & set(tables) for k in a.keys),
                ],
                run_config=QUIET,
                raise_on_error=False,
            )
            if not result.success:
                echo(f"extraction or merge failed for tenant {tenant_id}")
                return 1
            failed_checks += [
                f"{c.asset_key.to_user_string()}:{c.check_name} ({tenant_id})"
                for c in result.get_asset_check_evaluations()
                if not c.passed
            ]
        failed_checks += run_reports(resources, instance, tenant_ids, echo)
        storage = resources["storage"]
        table_resource = resources["tables"]
        assert isinstance(storage, LandingStorageResource)
        assert isinstance(table_resource, DeltaTablesResource)
        try:
            expected = sandbox_record_counts(stack.sandbox.url)
            echo(
                "every table check passed"
                if not failed_checks
                else f"table checks failed: {', '.join(failed_checks)}"
            )
            code = print_summary(storage, table_resource.store, tenant_ids, expected, echo)
            code = code or show_webhook_landing(stack.sandbox.url, job, instance, resources, echo)
            return 1 if failed_checks else code
        finally:
            storage.landing.close()


def table_rows(store: TableStore, name: str, tenant_id: str) -> int | None:
    """A tenant's rows in a table (None: no table)."""
    dt = open_table(store, name)
    if dt is None:
        return None
    return int(dt.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)]).count_rows())


def print_summary(
    storage: LandingStorageResource,
    tables: TableStore,
    tenant_ids: Sequence[str],
    expected: dict[tuple[str, str], int],
    echo: Echo,
) -> int:
    """Landed records and table rows per tenant and endpoint (child tables indented below
    their parent); the landed counts are compared with the sandbox's."""
    container = storage.container_client()
    mismatches = 0
    echo(f"{'tenant':<38} {'endpoint':<22} {'records':>8} {'table':>8}  batch")
    for tenant_id in tenant_ids:
        for endpoint in (e for e in CATALOG if not e.opt_in):
            manifest = latest_batch(
                container,
                prefix=storage.prefix,
                source="xero",
                tenant_id=tenant_id,
                endpoint=endpoint.name,
            )
            if manifest is None:
                echo(f"{tenant_id:<38} {endpoint.name:<22} {'-':>8} {'-':>8}  NOT LANDED")
                mismatches += 1
                continue
            want = expected.get((tenant_id, endpoint.path))
            flag = "" if want is None or want == manifest.record_count else f"  != {want}"
            mismatches += bool(flag)
            path = f"{container.container_name}/{manifest.location}/"
            rows = table_rows(tables, endpoint.name, tenant_id)
            shown = "-" if rows is None else str(rows)
            echo(
                f"{tenant_id:<38} {endpoint.name:<22} {manifest.record_count:>8} {shown:>8}"
                f"  {path}{flag}"
            )
            for child in table_spec(endpoint.name).children:
                lines = table_rows(tables, child.name, tenant_id)
                name = f"  {child.name}"
                echo(f"{'':<38} {name:<22} {'':>8} {'-' if lines is None else lines:>8}")
    echo(
        "every landed count equals the sandbox's"
        if mismatches == 0
        else f"{mismatches} endpoint(s) differ from the sandbox"
    )
    return 0 if mismatches == 0 else 1


@click.command("demo")
@click.option("--tenants", type=click.IntRange(1, 50), default=2, show_default=True)
@click.option("--records", type=click.IntRange(0), default=1000, show_default=True)
def demo_command(tenants: int, records: int) -> None:
    """The whole job on local defaults: sandbox Xero, Azurite, a file token store."""
    sys.exit(run_demo(tenants=tenants, records=records, echo=click.echo))

"""What `oauth-etl list cursors` and `oauth-etl run` ask of Dagster (no Dagster object is
defined here: the defs loader finds nothing to load).

The command line names this module as text and imports it only when such a command runs,
so `--help` and the token commands never load Dagster. The cursors come from the one
source of truth, the materializations (`assets.last_resume_point`); a run goes through the
code location's own assets, checks and resources, in this process, or is submitted to a
deployment's run queue through its webserver; either way its progress is read back from
the run's event records (`run_events`). In this process a second run then merges what
landed into the endpoints' Delta tables, as a deployment's `xero_tables_after_extract`
sensor does after its extraction runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import dagster as dg

from oauth_etl.app.contract import ConfigError
from oauth_etl.app.syntax import url_shape
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.run_events import EndpointProgress, RunProgress, TableProgress, follow
from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.tables.checks import TABLE_CHECKS
from oauth_etl.defs.tables.resources import build_table_resources
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS, asset_key, last_resume_point
from oauth_etl.defs.xero.checks import BATCH_CHECKS
from oauth_etl.defs.xero.jobs import IN_PROCESS, xero_extract_job
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import organisation_ids
from oauth_etl.doctor.causes import Service, explain
from oauth_etl.oauth.errors import clip
from oauth_etl.storage.account import safe_url
from oauth_etl.xero.catalog import Endpoint

HOME_VAR = "DAGSTER_HOME"
TENANT_TAG = "dagster/partition"
# The command shows every failure itself (from the event records): the console logger
# would say each twice.
QUIET: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@contextlib.contextmanager
def instance() -> Iterator[dg.DagsterInstance]:
    """The deployment's instance (DAGSTER_HOME): where the materializations, so the
    cursors, are kept."""
    home = os.path.expanduser(os.environ.get(HOME_VAR, "").strip())
    state: str | None = None
    if not home:
        state = "not set"
    elif not os.path.isdir(home):
        state = f"{clip(home)!r}, not a directory"
    elif not os.path.isabs(home):
        state = f"{clip(home)!r}, not an absolute path"
    if state is not None:
        raise ConfigError(
            f"{HOME_VAR} is {state} — "
            f"set it to the Dagster home of the deployment (its dagster.yaml names the "
            "storage that keeps the cursors); for a first local try, `mkdir -p ~/.dagster && "
            f"export {HOME_VAR}=~/.dagster`"
        )
    with _instance_of(home) as found:
        yield found


def _instance_of(home: str) -> dg.DagsterInstance:
    """DAGSTER_HOME's instance, as `DagsterInstance.get()` opens it, with telemetry off when
    its dagster.yaml says nothing of it: a fresh home would otherwise print Dagster's
    telemetry banner into the command's output (dagster_shared.telemetry prints it when it
    first writes the instance id). The file is not written; a `telemetry:` it sets wins."""
    import yaml
    from dagster._core.instance.ref import InstanceRef  # from_dir(overrides): no public twin

    path = os.path.join(home, "dagster.yaml")
    configured: Any = {}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as file:
                configured = yaml.safe_load(file) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise ConfigError(
                f"{HOME_VAR}'s dagster.yaml is not valid YAML{at}: fix it, or move it away "
                "for Dagster's defaults"
            ) from None
    said = isinstance(configured, dict) and "telemetry" in configured
    overrides = {} if said else {"telemetry": {"enabled": False}}
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(home, overrides=overrides))


def tenants_of(found: dg.DagsterInstance) -> list[str]:
    return list(found.get_dynamic_partitions(TENANTS.name or ""))


@dataclass(frozen=True)
class CursorRow:
    endpoint: str
    tenant_id: str
    cursor: str | None  # the next run asks for changes since it (None: reads everything)
    offset: int | None  # Journals: after this JournalNumber
    materialized_at: float | None  # the last committed batch
    incremental: bool


def cursors(
    found: dg.DagsterInstance, endpoints: Sequence[Endpoint], tenants: Sequence[str]
) -> list[CursorRow]:
    rows = []
    for tenant_id in tenants:
        for endpoint in endpoints:
            key = asset_key(endpoint)
            resume = last_resume_point(found, key, tenant_id)
            latest = found.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[tenant_id]), limit=1
            ).records
            rows.append(
                CursorRow(
                    endpoint.name,
                    tenant_id,
                    resume.cursor,
                    resume.offset,
                    latest[0].timestamp if latest else None,
                    endpoint.incremental,
                )
            )
    return rows


# -- running ------------------------------------------------------------------------------
def _run_config(endpoints: Sequence[Endpoint], full_refresh: bool) -> dict[str, Any]:
    if not full_refresh:
        return dict(QUIET)
    ops = {f"xero__{e.name}": {"config": {"full_refresh": True}} for e in endpoints}
    return {**QUIET, "ops": ops}


def register_tenants(found: dg.DagsterInstance, tenants: Sequence[str]) -> None:
    """Tenants as partitions (what `xero/tenants` does), so a run may target them."""
    known = set(tenants_of(found))
    new = [t for t in tenants if t not in known]
    if new:
        found.add_dynamic_partitions(TENANTS.name or "", new)


def _job() -> dg.JobDefinition:
    """Every endpoint and table asset on the code location's resources (values, not
    `dg.EnvVar`s: this process's environment is the run's)."""
    resources = build_resources(os.environ, env_vars=False)
    tables = build_table_resources(resources["storage"], os.environ, env_vars=False)
    return dg.Definitions(
        assets=[*ENDPOINT_ASSETS, *TABLE_ASSETS],
        asset_checks=[*BATCH_CHECKS, *TABLE_CHECKS],
        resources={**resources, **tables},
    ).resolve_implicit_global_asset_job_def()


def run_in_process(
    found: dg.DagsterInstance,
    endpoints: Sequence[Endpoint],
    tenant_id: str,
    *,
    full_refresh: bool,
    on_change: Callable[[RunProgress], None],
    timeout: float,
) -> RunProgress:
    """One run of the selected assets for one tenant, here, followed as it goes."""
    progress = RunProgress(str(uuid.uuid4()), tenant_id)
    progress.endpoints = {e.name: EndpointProgress(e.name, tenant_id) for e in endpoints}
    selection = [asset_key(e) for e in endpoints]
    config = _run_config(endpoints, full_refresh)
    return _execute(found, progress, selection, config, on_change, timeout)


def merge_in_process(
    found: dg.DagsterInstance,
    endpoints: Sequence[Endpoint],
    tenant_id: str,
    *,
    on_change: Callable[[RunProgress], None],
    timeout: float,
) -> RunProgress | None:
    """One run merging the batches landed for the tenant into the endpoints' Delta tables
    (and their child tables): what a deployment's `xero_tables_after_extract` sensor
    launches after an extraction. None when no endpoint has a table."""
    assets = [a for a in TABLE_ASSETS if any(table_key(e.name) in a.keys for e in endpoints)]
    if not assets:
        return None
    progress = RunProgress(str(uuid.uuid4()), tenant_id)
    # A table's multi-asset writes its child tables too: they are selected with it.
    selection = [key for a in assets for key in sorted(a.keys, key=lambda k: k.to_user_string())]
    parents = [e.name for e in endpoints if any(table_key(e.name) in a.keys for a in assets)]
    progress.tables = {name: TableProgress(name, tenant_id) for name in parents}
    return _execute(found, progress, selection, dict(QUIET), on_change, timeout)


def _execute(
    found: dg.DagsterInstance,
    progress: RunProgress,
    selection: Sequence[dg.AssetKey],
    run_config: Mapping[str, Any],
    on_change: Callable[[RunProgress], None],
    timeout: float,
) -> RunProgress:
    """Execute `selection` for the tenant in a thread of this process, following the run's
    event records meanwhile."""
    job = _job()
    finished = threading.Event()
    failure: list[BaseException] = []

    def execute() -> None:
        try:
            job.execute_in_process(
                instance=found,
                partition_key=progress.tenant_id,
                asset_selection=list(selection),
                run_config=dict(run_config),
                run_id=progress.run_id,
                raise_on_error=False,
            )
        except BaseException as exc:  # reported by the caller, after the follower stops
            failure.append(exc)
        finally:
            finished.set()

    worker = threading.Thread(target=execute, name="oauth-etl-run", daemon=True)
    worker.start()
    try:
        follow(found, progress, on_change, timeout=timeout, done=finished.is_set)
    finally:
        finished.wait(timeout)
    if failure:
        raise failure[0]
    return progress


def webserver_url(webserver: str) -> SplitResult:
    """--submit's URL, checked before anything else reads the deployment (quoted without
    user info or query: a URL may carry a token there)."""
    if url_shape("--submit", webserver):
        raise ConfigError(
            f"--submit {clip(safe_url(webserver))!r} is not the webserver's URL — give the "
            "deployment's webserver, e.g. http://127.0.0.1:3000"
        )
    return urlsplit(webserver.strip())


def submit(
    webserver: str,
    endpoints: Sequence[Endpoint],
    tenant_id: str,
    *,
    full_refresh: bool,
    location: str | None = None,
) -> str:
    """Queue one run on a deployment (its webserver's GraphQL API); the run's id."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    parts = webserver_url(webserver)
    client = DagsterGraphQLClient(
        parts.hostname or "",  # webserver_url: never empty
        port_number=parts.port,
        use_https=parts.scheme == "https",
        timeout=30,
        path_prefix=parts.path.rstrip("/"),
    )
    # The daily endpoints go as a subset of `xero_extract`: the job the deployment's
    # `xero_tables_after_extract` sensor watches, so it merges their tables after the run.
    # The opt-in ones are not in it (their tables are materialized on demand).
    daily = all(not e.opt_in for e in endpoints)
    run_config = _run_config(endpoints, full_refresh)
    try:
        return client.submit_job_execution(
            xero_extract_job.name if daily else "__ASSET_JOB",
            repository_location_name=location,
            run_config={**IN_PROCESS, **run_config} if daily else run_config,
            tags={TENANT_TAG: tenant_id},
            asset_selection=[list(asset_key(e).path) for e in endpoints],
        )
    except Exception as exc:
        shown = clip(safe_url(webserver), 200)  # its start; no user info or query
        service = Service("the Dagster webserver", shown, "--submit")
        cause = explain(exc, service, timeout=3.0)
        if cause is not None:
            raise ConfigError(f"cannot reach {cause.detail} — {cause.fix}") from None
        said = (
            " ".join(str(exc).split())[:200] if isinstance(exc, DagsterGraphQLClientError) else ""
        )
        raise ConfigError(
            f"the webserver at {shown} did not queue the run ({said or 'no reason given'}) — "
            "check that it serves this code location (pass --location NAME when it serves "
            "several)"
        ) from None


def follow_submitted(
    found: dg.DagsterInstance,
    run_id: str,
    endpoints: Sequence[Endpoint],
    tenant_id: str,
    on_change: Callable[[RunProgress], None],
    timeout: float,
) -> RunProgress:
    progress = RunProgress(run_id, tenant_id)
    progress.endpoints = {e.name: EndpointProgress(e.name, tenant_id) for e in endpoints}
    return follow(found, progress, on_change, timeout=timeout)


__all__ = [
    "HOME_VAR",
    "CursorRow",
    "EndpointProgress",
    "RunProgress",
    "TableProgress",
    "cursors",
    "follow_submitted",
    "instance",
    "merge_in_process",
    "organisation_ids",
    "register_tenants",
    "run_in_process",
    "submit",
    "tenants_of",
]

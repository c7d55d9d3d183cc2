"""What `oauth-etl list cursors` and `oauth-etl run` ask of Dagster (no Dagster object is
defined here: the defs loader finds nothing to load).

The command line names this module as text and imports it only when such a command runs,
so `--help` and the token commands never load Dagster. The cursors come from the one
source of truth, the materializations (`assets.last_resume_point`); a run goes through the
code location's own assets, checks and resources, in this process, or is submitted to a
deployment's run queue through its webserver; either way its progress is read back from
the run's event records.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from oauth_etl.app.contract import ConfigError
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.tables.resources import build_table_resources
from oauth_etl.defs.xero.assets import CURSOR_KEY, ENDPOINT_ASSETS, asset_key, last_resume_point
from oauth_etl.defs.xero.checks import BATCH_CHECKS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import organisation_ids
from oauth_etl.doctor.causes import Service, explain
from oauth_etl.xero.catalog import Endpoint

HOME_VAR = "DAGSTER_HOME"
TENANT_TAG = "dagster/partition"
# The command shows every failure itself (from the event records): the console logger
# would say each twice.
QUIET: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
POLL_SECONDS = 0.5
TABLE_STEP = "xero_tables__"  # the table multi-assets' names (defs/tables/assets.py)
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@contextlib.contextmanager
def instance() -> Iterator[dg.DagsterInstance]:
    """The deployment's instance (DAGSTER_HOME): where the materializations, so the
    cursors, are kept."""
    home = os.environ.get(HOME_VAR, "").strip()
    if not home or not os.path.isdir(home):
        raise ConfigError(
            f"{HOME_VAR} is {'not set' if not home else f'{home!r}, not a directory'}: "
            f"set it to the Dagster home of the deployment (its dagster.yaml names the "
            "storage that keeps the cursors); for a first local try, `mkdir -p ~/.dagster && "
            f"export {HOME_VAR}=~/.dagster`"
        )
    with dg.DagsterInstance.get() as found:
        yield found


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
@dataclass
class EndpointProgress:
    """What the command shows of one endpoint of one run."""

    endpoint: str
    tenant_id: str
    state: str = "queued"  # queued | running | landed | failed
    message: str = ""  # the asset's latest progress line, or the failure
    records: int | None = None
    pages: int | None = None
    api_calls: int | None = None
    minute_left: int | None = None  # the tenant's calls left this minute, after it
    day_left: int | None = None  # and today
    cursor_to: str | None = None


@dataclass
class TableProgress:
    """What the command shows of one Delta table a merge run writes."""

    table: str
    tenant_id: str
    state: str = "queued"  # queued | running | merged | failed
    message: str = ""  # the failure
    rows: int | None = None  # the tenant's rows in the table after the merge
    version: int | None = None  # the table's Delta version after it
    batches: int | None = None  # batches merged (the endpoint's own table)


@dataclass
class RunProgress:
    run_id: str
    tenant_id: str
    endpoints: dict[str, EndpointProgress] = field(default_factory=dict)
    # A merge run: the endpoints' own tables from the start, child tables as they are written.
    tables: dict[str, TableProgress] = field(default_factory=dict)
    status: str = "QUEUED"
    failure: str = ""  # why the run failed outside any step (a resource, the run itself)

    @property
    def done(self) -> bool:
        return self.status in {s.value for s in TERMINAL}


def _metadata_int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    raw = getattr(value, "value", value)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def follow(
    found: dg.DagsterInstance,
    progress: RunProgress,
    on_change: Callable[[RunProgress], None],
    *,
    timeout: float,
    done: Callable[[], bool] | None = None,
) -> RunProgress:
    """Read the run's event records as they come until it ends (or `done()` says so);
    `on_change` after every change. Bounded by `timeout`."""
    cursor: str | None = None
    deadline = time.monotonic() + timeout
    names = {f"xero__{name}": name for name in progress.endpoints}
    while True:
        # The run's state before its records are read: once it has ended, the records read
        # after it are all there are.
        run = found.get_run_by_id(progress.run_id)
        status = run.status.value if run is not None else progress.status
        changed = status != progress.status
        progress.status = status
        finished = progress.done or (done is not None and done())
        result = found.get_records_for_run(progress.run_id, cursor=cursor, limit=1000)
        cursor = result.cursor
        for record in result.records:
            changed |= _apply(progress, record.event_log_entry, names)
        if changed:
            on_change(progress)
        if finished and not result.has_more:
            return progress
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {progress.run_id} still {progress.status} after {timeout:g} s")
        if not result.has_more:
            time.sleep(POLL_SECONDS)


_RUN_FAILURES = (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RESOURCE_INIT_FAILURE)


def _apply(progress: RunProgress, entry: dg.EventLogEntry, names: Mapping[str, str]) -> bool:
    step = names.get(entry.step_key or "")
    event = entry.dagster_event
    if event is not None and event.event_type in _RUN_FAILURES and not progress.failure:
        error = getattr(event.event_specific_data, "error", None)
        progress.failure = _failure_text(error) if error is not None else _first_line(entry)
        return True
    step_key = entry.step_key or ""
    if step_key.startswith(TABLE_STEP) and event is not None:
        return _apply_table(progress, entry, event, step_key.removeprefix(TABLE_STEP))
    if step is None:
        return False
    shown = progress.endpoints[step]
    if event is None:  # a log line: the asset's own progress ("xero/x: [###...] page ...")
        if entry.user_message.startswith(f"xero/{step}: ["):
            shown.state, shown.message = "running", entry.user_message
            return True
        return False
    if event.event_type == dg.DagsterEventType.STEP_START:
        shown.state = "running"
    elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        materialization = entry.asset_materialization
        metadata = materialization.metadata if materialization is not None else {}
        shown.state = "landed"
        shown.records = _metadata_int(metadata, "dagster/row_count")
        shown.pages = _metadata_int(metadata, "pages")
        shown.api_calls = _metadata_int(metadata, "api_calls")
        shown.minute_left = _metadata_int(metadata, "rate/minute_remaining")
        shown.day_left = _metadata_int(metadata, "rate/day_remaining")
        cursor = metadata.get(CURSOR_KEY)
        text = getattr(cursor, "value", None)
        shown.cursor_to = text if isinstance(text, str) and text else None
    elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
        shown.state = "failed"
        error = getattr(event.event_specific_data, "error", None)
        shown.message = _failure_text(error)
    else:
        return False
    return True


def _apply_table(
    progress: RunProgress, entry: dg.EventLogEntry, event: dg.DagsterEvent, parent: str
) -> bool:
    """A table step (`xero_tables__<endpoint>`): one merge writes the endpoint's table and
    its child tables, a materialization each."""
    shown = progress.tables.get(parent)
    if shown is None:
        return False
    if event.event_type == dg.DagsterEventType.STEP_START:
        shown.state = "running"
    elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        materialization = entry.asset_materialization
        if materialization is None:
            return False
        name = materialization.asset_key.path[-1]
        table = progress.tables.setdefault(name, TableProgress(name, progress.tenant_id))
        metadata = materialization.metadata
        table.state = "merged"
        table.rows = _metadata_int(metadata, "dagster/row_count")
        table.version = _metadata_int(metadata, "delta_version")
        table.batches = _metadata_int(metadata, "batches_merged")
    elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
        shown.state = "failed"
        shown.message = _error_line(getattr(event.event_specific_data, "error", None))
    else:
        return False
    return True


_QUERY = re.compile(r"\?\S*")  # a URL's query: where a SAS token would be
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # delta-rs colours its `↳`
_XML = re.compile(r"<(Code|Message)>([^<]*)</\1>")


def _error_line(error: Any) -> str:
    """The innermost cause of a failed merge, on one line. delta-rs (object_store) chains
    its causes with `↳` and ends with the storage's answer, `404 Not Found ↳ <Error>
    <Code>ContainerNotFound</Code><Message>...` (seen, not documented): the answer first,
    then the error's kind; URLs lose their query."""
    if error is None:
        return "the step failed: see the run in the Dagster UI (or `dagster debug`)"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = _COLOUR.sub("", str(getattr(error, "message", "")))
    parts = [" ".join(p.split()) for p in text.split("↳")]
    parts = [_QUERY.sub("", p) for p in parts if p]
    if not parts:
        return f"{getattr(error, 'cls_name', 'an error')}: see the run in the Dagster UI"
    xml = dict(_XML.findall(parts[-1]))
    status = next((p for p in parts if p[:3].isdigit()), "")
    if xml:
        said = xml.get("Message", "").split(" RequestId:", 1)[0]
        answer = ", ".join(filter(None, (status, xml.get("Code")))) + f": {said}"
    else:
        answer = parts[-1]
    return answer[:200] if len(parts) == 1 else f"{answer[:200]} ({parts[0][:100]})"


def _first_line(entry: dg.EventLogEntry) -> str:
    message = entry.dagster_event.message if entry.dagster_event is not None else None
    return (message or entry.user_message or "the run failed").split("\n", 1)[0]


def _failure_text(error: Any) -> str:
    """A failed step's own description (`dg.Failure` carries our message: no secret)."""
    while error is not None:
        if getattr(error, "cls_name", "") == "Failure":
            return (
                str(error.message)
                .split("\n", 1)[0]
                .removeprefix("dagster._core.definitions.events.Failure: ")
            )
        error = getattr(error, "cause", None)
    return "the step failed: see the run in the Dagster UI (or `dagster debug`)"


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
        asset_checks=BATCH_CHECKS,
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


def submit(
    webserver: str,
    endpoints: Sequence[Endpoint],
    tenant_id: str,
    *,
    full_refresh: bool,
    location: str | None = None,
) -> str:
    """Queue one run on a deployment (its webserver's GraphQL API); the run's id."""
    from urllib.parse import urlsplit

    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    parts = urlsplit(webserver)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--submit {webserver!r} is not the webserver's URL (e.g. http://127.0.0.1:3000)"
        )
    client = DagsterGraphQLClient(
        parts.hostname,
        port_number=parts.port,
        use_https=parts.scheme == "https",
        timeout=30,
        path_prefix=parts.path.rstrip("/"),
    )
    try:
        return client.submit_job_execution(
            "__ASSET_JOB",
            repository_location_name=location,
            run_config=_run_config(endpoints, full_refresh),
            tags={TENANT_TAG: tenant_id},
            asset_selection=[list(asset_key(e).path) for e in endpoints],
        )
    except Exception as exc:
        service = Service("the Dagster webserver", webserver, "--submit")
        cause = explain(exc, service, timeout=3.0)
        if cause is not None:
            raise ConfigError(f"cannot reach {cause.detail}: {cause.fix}") from None
        said = (
            " ".join(str(exc).split())[:200] if isinstance(exc, DagsterGraphQLClientError) else ""
        )
        raise ConfigError(
            f"the webserver at {webserver} did not queue the run ({said or 'no reason given'}): "
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

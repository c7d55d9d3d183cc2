"""A run's progress, read back from its event records: what `oauth-etl run` shows of each
endpoint it lands and each Delta table it merges (`oauth_etl.defs.commands`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from oauth_etl.defs.xero.assets import CURSOR_KEY

POLL_SECONDS = 0.5
TABLE_STEP = "xero_tables__"  # the table multi-assets' names (defs/tables/assets.py)
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


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
    # Its check (defs/tables/checks.py): every id landed for the tenant is one row.
    ids_match_landed: bool | None = None


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
    if event is not None and event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        return _apply_check(progress, event)
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


def _apply_check(progress: RunProgress, event: dg.DagsterEvent) -> bool:
    """A table's check: a failed one fails the table's line, with the check's reason."""
    evaluation = event.event_specific_data
    shown = progress.tables.get(getattr(evaluation, "asset_key", dg.AssetKey("?")).path[-1])
    if shown is None:
        return False
    passed = bool(getattr(evaluation, "passed", False))
    shown.ids_match_landed = passed
    if not passed:
        said = getattr(evaluation, "description", None) or "see the run in the Dagster UI"
        shown.state, shown.message = "failed", f"check ids_match_landed failed: {said}"
    return True


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

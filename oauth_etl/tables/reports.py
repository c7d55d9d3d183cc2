"""Report readings as Delta tables: one long-format table per report, and a wide monthly
view of it for BI tools.

`report_<report>` (e.g. `report_profit_and_loss`) holds one row per `ReportCell` of every
reading ever made: a run appends its readings with their `as_read_at`, nothing is
updated, so "what did we report for March as of 5 April" is a filter on `as_read_at`
(`readings(..., as_of=...)`), however old the reading, with no time-travel retention to
outlive. A landed batch of answers is appended in one atomic Delta commit, streamed in
record batches; a batch already in the table (a retried step) is skipped, so nothing is
read twice into it. Tables are partitioned by `tenant_id`.

`report_<report>_monthly` is rebuilt per tenant after each append (one overwrite commit
of the tenant's partition): the latest reading of every period, pivoted to one column
per month (`2026-03`), one row per report line (section, label, account, tracking
option, and the column header when a period has several, e.g. Debit/Credit).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, write_deltalake

from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import BATCH, TENANT
from oauth_etl.tables.reports_layout import (
    AS_READ_AT,
    DECIMAL,
    MONTHLY_KEYS,
    MONTHLY_TAIL,
    PERIOD_END,
    READING_SCOPE,
    month_column,
    monthly_name,
    reading_schema,
    table_name,
)
from oauth_etl.tables.writes import WRITER, commit_properties, literal, open_table
from oauth_etl.xero.reports.model import Basis, Reading, ReportCell, ReportRequest

CHUNK_ROWS = 10_000  # cells per record batch of a streamed append
_PLACES = Decimal(1).scaleb(-DECIMAL[1])


@dataclass
class ReportWrite:
    table: str
    tenant_id: str
    batches_appended: int = 0
    batches_skipped: int = 0  # already in the table: a replay
    rows: int = 0
    version: int | None = None
    monthly_rows: int = 0


def _param(request: ReportRequest, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in request.params if key.lower() == wanted), None)


def _value(cell: ReportCell) -> tuple[Decimal | None, str | None]:
    """The decimal column holds 10 places; a value with more keeps its text instead."""
    if cell.value is None or cell.value.quantize(_PLACES) == cell.value:
        return cell.value, cell.text
    return None, str(cell.value)


def _row(cell: ReportCell, request: ReportRequest, batch_id: str) -> dict[str, Any]:
    value, text = _value(cell)
    path = list(cell.section_path)
    return {
        TENANT: cell.tenant_id,
        "report": cell.report,
        "report_id": cell.report_id,
        "basis": cell.basis.value,
        "tracking_category_id": cell.tracking_category_id,
        "contact_id": _param(request, "contactId"),
        "period_start": cell.period_start,
        PERIOD_END: cell.period_end,
        "section_path": path,
        "section": " / ".join(title for title in path if title),
        "row_index": cell.row_index,
        "row_type": cell.row_type,
        "label": cell.label,
        "column": cell.column,
        "tracking_option": cell.tracking_option,
        "account_id": cell.account_id,
        "account_code": cell.account_code,
        "value": value,
        "text": text,
        "currency": cell.currency,
        # The cell's other attributes (invoiceID on an aged report's documents), as JSON.
        "attributes": orjson.dumps(dict(cell.attributes)).decode() if cell.attributes else None,
        AS_READ_AT: cell.as_read_at,
        "request_key": request.key,
        BATCH: batch_id,
    }


def reading_batches(readings: Iterable[Reading], batch_id: str) -> Iterator[pa.RecordBatch]:
    """The readings' cells as record batches of the table's schema, CHUNK_ROWS at a time."""
    schema = reading_schema()
    rows: list[dict[str, Any]] = []
    for reading in readings:
        for cell in reading.cells:
            rows.append(_row(cell, reading.request, batch_id))
            if len(rows) >= CHUNK_ROWS:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)
                rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _tenant_rows(table: DeltaTable, tenant_id: str, columns: list[str] | None = None) -> pa.Table:
    dataset = table.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)])
    return dataset.to_table(columns=columns)


def batches_in_table(store: TableStore, report: str, tenant_id: str) -> set[str]:
    """The landed batches whose readings the tenant's table already holds."""
    table = open_table(store, table_name(report))
    if table is None:
        return set()
    found = _tenant_rows(table, tenant_id, [BATCH]).column(BATCH)
    return {str(b) for b in pc.unique(found).to_pylist() if b is not None}


def _retention(days: int) -> dict[str, str | None]:
    interval = f"interval {days} days"
    # Time travel needs both the log and the data files of old versions.
    return {"delta.logRetentionDuration": interval, "delta.deletedFileRetentionDuration": interval}


def _write(
    store: TableStore,
    name: str,
    data: pa.Table | pa.RecordBatchReader,
    description: str,
    commit: CommitProperties,
    retention_days: int,
    replace_tenant: str | None = None,
) -> None:
    """One commit: an append, or (`replace_tenant`) an overwrite of that tenant's
    partition; the first creates the table, partitioned by tenant."""
    existing = open_table(store, name)
    # delta-rs types `mode` per overload; both values are valid here.
    mode: Any = "append" if replace_tenant is None else "overwrite"
    if existing is None:
        write_deltalake(
            store.uri(name),
            data,
            partition_by=[TENANT],
            mode=mode,
            description=description,
            storage_options=store.storage_options(),
            configuration=_retention(retention_days),
            commit_properties=commit,
            writer_properties=WRITER,
        )
        return
    # A new month is a new column of the monthly view: the schema grows, other tenants
    # read it as null.
    write_deltalake(
        existing,
        data,
        mode=mode,
        predicate=None if replace_tenant is None else f"{TENANT} = {literal(replace_tenant)}",
        schema_mode=None if replace_tenant is None else "merge",
        commit_properties=commit,
        writer_properties=WRITER,
    )


def append_readings(
    store: TableStore,
    report: str,
    tenant_id: str,
    batch_id: str,
    readings: Iterable[Reading],
    *,
    retention_days: int,
    known: set[str] | None = None,
) -> ReportWrite:
    """Append one landed batch's readings in one commit (streamed); `known`: the batches
    already in the table (`batches_in_table`), skipped."""
    name = table_name(report)
    result = ReportWrite(name, tenant_id)
    known = batches_in_table(store, report, tenant_id) if known is None else known
    if batch_id in known:
        result.batches_skipped = 1
        return result
    counted = 0

    def counting() -> Iterator[pa.RecordBatch]:
        nonlocal counted
        for batch in reading_batches(readings, batch_id):
            if set(batch.column(TENANT).to_pylist()) != {tenant_id}:
                raise ValueError(f"batch {batch_id} holds cells of another tenant than {tenant_id}")
            counted += batch.num_rows
            yield batch

    schema = reading_schema()
    data = pa.RecordBatchReader.from_batches(schema, counting())
    commit = commit_properties({"oauth_etl.tenant_id": tenant_id, "oauth_etl.batches": [batch_id]})
    _write(store, name, data, f"oauth_etl report readings: {report}", commit, retention_days)
    known.add(batch_id)
    written = open_table(store, name)
    result.version = None if written is None else written.version()
    result.batches_appended, result.rows = 1, counted
    return result


def _moment(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
    return value.astimezone(dt.UTC)


def latest(rows: pa.Table, as_of: dt.datetime | None = None) -> pa.Table:
    """Of every period's readings (per basis, tracking split and contact), the newest one
    read at or before `as_of` (None: now), whole: a line the newest reading lacks is gone."""
    if as_of is not None:
        cutoff = pa.scalar(_moment(as_of), pa.timestamp("us", tz="UTC"))
        rows = rows.filter(pc.less_equal(rows.column(AS_READ_AT), cutoff))
    scopes = list(zip(*(rows.column(c).to_pylist() for c in READING_SCOPE), strict=True))
    moments = rows.column(AS_READ_AT).to_pylist()
    newest: dict[tuple[Any, ...], dt.datetime] = {}
    for scope, moment in zip(scopes, moments, strict=True):
        if scope not in newest or moment > newest[scope]:
            newest[scope] = moment
    keep = [newest[scope] == moment for scope, moment in zip(scopes, moments, strict=True)]
    return rows.filter(pa.array(keep, pa.bool_()))


def readings(
    store: TableStore, report: str, tenant_id: str, as_of: dt.datetime | None = None
) -> pa.Table:
    """The tenant's figures of `report` as they were reported at `as_of` (None: the latest
    reading of each period). An empty table when nothing was read."""
    table = open_table(store, table_name(report))
    if table is None:
        return reading_schema().empty_table()
    return latest(_tenant_rows(table, tenant_id), as_of)


def cells_of(rows: pa.Table) -> list[ReportCell]:
    """Table rows back as cells: the checks read what the table holds."""
    out = []
    for row in rows.to_pylist():
        out.append(
            ReportCell(
                tenant_id=row[TENANT],
                report=row["report"],
                report_id=row["report_id"],
                basis=Basis(row["basis"]),
                period_start=row["period_start"],
                period_end=row[PERIOD_END],
                section_path=tuple(row["section_path"] or ()),
                row_index=row["row_index"],
                row_type=row["row_type"],
                label=row["label"],
                column=row["column"],
                value=row["value"],
                text=row["text"],
                account_id=row["account_id"],
                account_code=row["account_code"],
                tracking_category_id=row["tracking_category_id"],
                tracking_option=row["tracking_option"],
                currency=row["currency"],
                as_read_at=row[AS_READ_AT],
                attributes=tuple(orjson.loads(row["attributes"]).items())
                if row["attributes"]
                else (),
            )
        )
    return out


def _measures(rows: list[dict[str, Any]]) -> list[str]:
    """A cell's column header when its reading has several columns for one period and
    option (a trial balance's Debit, Credit ...); "" when the column is the period."""

    def where(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["request_key"], row[AS_READ_AT], row[PERIOD_END], row["tracking_option"])

    columns: defaultdict[tuple[Any, ...], set[str]] = defaultdict(set)
    for row in rows:
        columns[where(row)].add(row["column"])
    return [row["column"] if len(columns[where(row)]) > 1 else "" for row in rows]


def monthly(rows: pa.Table) -> pa.Table:
    """Latest readings pivoted: one row per report line, one decimal column per month (the
    month of the period's end; of two periods ending in one month, the later one)."""
    listed = rows.to_pylist()
    lines: dict[tuple[Any, ...], dict[str, Any]] = {}
    ends: dict[tuple[tuple[Any, ...], str], dt.date] = {}
    months: set[str] = set()
    for row, measure in zip(listed, _measures(listed), strict=True):
        key = tuple(measure if k == "measure" else row[k] for k in MONTHLY_KEYS)
        end: dt.date = row[PERIOD_END]
        month = month_column(end.year, end.month)
        months.add(month)
        line = lines.setdefault(key, {"row_order": row["row_index"], "_newest": end})
        if end >= line["_newest"]:  # the newest period orders the line
            line["_newest"], line["row_order"] = end, row["row_index"]
        line["currency"] = line.get("currency") or row["currency"]
        line[AS_READ_AT] = max(line.get(AS_READ_AT, row[AS_READ_AT]), row[AS_READ_AT])
        if ends.get((key, month), dt.date.min) <= end:
            ends[(key, month)] = end
            line[month] = row["value"]
    ordered = sorted(months)
    schema = pa.schema(
        [pa.field(k, pa.string(), nullable=k != TENANT) for k in MONTHLY_KEYS]
        + [pa.field(m, pa.decimal128(*DECIMAL)) for m in ordered]
        + [
            pa.field("row_order", pa.int32()),
            pa.field("currency", pa.string()),
            pa.field(AS_READ_AT, pa.timestamp("us", tz="UTC")),
        ]
    )
    body = [
        {**dict(zip(MONTHLY_KEYS, key, strict=True)), **{m: line.get(m) for m in ordered}}
        | {tail: line.get(tail) for tail in MONTHLY_TAIL}
        for key, line in sorted(lines.items(), key=lambda kv: (kv[1]["row_order"], str(kv[0])))
    ]
    return pa.Table.from_pylist(body, schema=schema)


def write_monthly(store: TableStore, report: str, tenant_id: str, *, retention_days: int) -> int:
    """Rebuild the tenant's wide monthly view from the latest readings (one commit);
    returns its rows."""
    wide = monthly(readings(store, report, tenant_id))
    if wide.num_rows == 0:
        return 0
    name = monthly_name(report)
    commit = commit_properties({"oauth_etl.tenant_id": tenant_id})
    description = f"oauth_etl report monthly view: {report}"
    _write(store, name, wide, description, commit, retention_days, tenant_id)
    return int(wide.num_rows)

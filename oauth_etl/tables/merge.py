"""Merge landed records into the endpoint's Delta table and its child tables.

Records are converted `chunk_records` at a time and spooled to local disk by bucket
(`spool.py`); then the buckets are merged a group at a time, a group holding at most
`MERGE_TARGET_ROWS` existing rows of the tenant per table, so a MERGE reads and rewrites
that much at most, whatever the tenant's size. Per group: the copies of an id are reduced
to the one the version rule (`model.py`) prefers, the table's current versions of those ids
are read (from the group's files only), and only newer copies (the "winners") are written,
`merge_rows` per commit. Nothing newer, nothing written: replaying a batch adds no version.

Child tables are written before their parent. Each write is an atomic Delta commit, so a
failure leaves every table at a readable version; after one, the groups merged before it
stay, the parent may still hold the old copy while its lines are the new ones, and the
rerun sees the same winners and completes the parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypedDict, Unpack, cast

import pyarrow as pa
import pyarrow.compute as pc
from azure.storage.blob import ContainerClient
from deltalake import DeltaTable

from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records
from oauth_etl.tables.convert import convert_records
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import BATCH, BUCKET, TENANT, TableSpec, child_shape
from oauth_etl.tables.snapshots import delete_absent, snapshot_start
from oauth_etl.tables.spool import OWNER, SEQ, Spool
from oauth_etl.tables.writes import (
    ChunkWrite,
    Handles,
    TableCounts,
    merge_child,
    merge_parent,
    scan,
    table_buckets,
)

DEFAULT_CHUNK_RECORDS = 5_000  # records converted at a time
DEFAULT_MERGE_ROWS = 10_000  # rows merged per Delta commit and table
# A tenant's rows per table are split in 32 buckets: a tenant of 2M invoices (4M lines)
# still merges a bucket of about 64k rows at a time; a small tenant reads a few more,
# smaller files (at most 32 per table after compaction).
DEFAULT_BUCKETS = 32
MERGE_TARGET_ROWS = 10_000  # existing rows of one table a merge commit may rewrite
DEFAULT_RETENTION_DAYS = 7  # as Delta's own deletedFileRetentionDuration

Pair = tuple[str, Mapping[str, Any]]  # (batch id, record)


@dataclass
class MergeResult:
    table: str
    tenant_id: str
    records_read: int = 0
    winners: int = 0  # records newer than the table's copy
    without_id: int = 0  # records lacking the id field: cannot be keyed, reported here
    batches: list[str] = field(default_factory=list)
    parent: TableCounts = field(default_factory=TableCounts)
    children: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        """Records not newer than the table's copy: replays, older copies, duplicates."""
        return self.records_read - self.without_id - self.winners


class MergeOptions(TypedDict, total=False):
    """How a merge runs (`merge_records`' keywords); `merge_batches` passes them through."""

    chunk_records: int
    merge_rows: int
    retention_days: int
    buckets: int


def merge_batches(
    store: TableStore,
    table: TableSpec,
    container: ContainerClient,
    manifests: Iterable[Manifest],
    **options: Unpack[MergeOptions],
) -> MergeResult:
    """Merge landed batches (one tenant, oldest first) into `table`, streaming their parts."""
    manifests = list(manifests)
    tenants = {m.tenant_id for m in manifests}
    if len(tenants) > 1:
        raise ValueError(f"merge one tenant's batches at a time, got {sorted(tenants)}")
    if not manifests:
        return MergeResult(table.name, "", children={c.name: TableCounts() for c in table.children})

    # The ids Xero still has: those of the last complete snapshot and of later batches.
    last = manifests[-1]
    since = snapshot_start(table, manifests)
    present: set[Any] | None = None if since is None else set()

    def pairs() -> Iterator[Pair]:
        for index, manifest in enumerate(manifests):
            for record in iter_records(container, manifest):
                if present is not None and since is not None and index >= since:
                    present.add(record.get(table.id_field))
                yield manifest.batch_id, record

    result = merge_records(store, table, last.tenant_id, pairs(), **options)
    if present is not None:
        snapshot = manifests[since or 0].batch_id
        delete_absent(Handles(store), table, last.tenant_id, present, result.parent, snapshot)
    result.batches = [m.batch_id for m in manifests]
    return result


def merge_records(
    store: TableStore,
    table: TableSpec,
    tenant_id: str,
    pairs: Iterable[Pair],
    *,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    merge_rows: int = DEFAULT_MERGE_ROWS,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    buckets: int = DEFAULT_BUCKETS,
) -> MergeResult:
    """Merge (batch id, record) pairs of one tenant, in landing order.

    Records are converted `chunk_records` at a time (Python objects are the large part of
    memory); `buckets` applies to tables this merge creates (an existing table keeps its own).
    """
    if chunk_records < 1 or merge_rows < 1 or buckets < 1:
        raise ValueError("chunk_records, merge_rows and buckets must be positive")
    result = MergeResult(table.name, tenant_id)
    result.children = {child.name: TableCounts() for child in table.children}
    handles = Handles(store)
    count = _bucket_count(handles, table, buckets)
    with Spool(count) as spool:
        iterator = iter(pairs)
        while chunk := list(islice(iterator, chunk_records)):
            result.records_read += len(chunk)
            keyed = [pair for pair in chunk if pair[1].get(table.id_field) is not None]
            result.without_id += len(chunk) - len(keyed)
            if keyed:
                converted = convert_records(table, tenant_id, keyed)
                children = {
                    name: (rows, converted.child_owners[name])
                    for name, rows in converted.children.items()
                }
                keys = [record[table.id_field] for _, record in keyed]
                spool.add(table.name, converted.parent, keys, children)
                result.parent.conversion.add(converted.stats)
                for name, stats in converted.child_stats.items():
                    result.children[name].conversion.add(stats)
                del converted, children
            del chunk, keyed
        for group in _groups(handles, table, tenant_id, spool):
            _merge_group(
                handles, table, tenant_id, spool, group, result, merge_rows, retention_days
            )
            pa.default_memory_pool().release_unused()  # give freed Arrow buffers back
    tables = {table.name: result.parent, **result.children}
    for name, counts in tables.items():
        if counts.version is None:  # nothing newer: report the version in place
            dt = handles.get(name)
            counts.version = None if dt is None else dt.version()
    return result


def _bucket_count(handles: Handles, table: TableSpec, default: int) -> int:
    """The tables' bucket count: theirs when they exist (all the same), else `default`."""
    found = set()
    for name in (table.name, *(c.name for c in table.children)):
        dt = handles.get(name)
        if dt is not None:
            found.add(table_buckets(dt, handles.store.uri(name)))
    if len(found) > 1:
        raise ValueError(f"{table.name} and its child tables disagree on buckets: {found}")
    return found.pop() if found else default


def _rows_by_bucket(dt: DeltaTable | None, tenant_id: str) -> dict[int, int]:
    """Rows per bucket of a tenant, from the log's file statistics (no data is read)."""
    if dt is None:
        return {}
    actions = pa.table(dt.get_add_actions(flatten=True))
    rows: dict[int, int] = {}
    for tenant, bucket, count in zip(
        actions.column(f"partition.{TENANT}").to_pylist(),
        actions.column(f"partition.{BUCKET}").to_pylist(),
        actions.column("num_records").to_pylist(),
        strict=True,
    ):
        if tenant == tenant_id:
            rows[int(bucket)] = rows.get(int(bucket), 0) + int(count or 0)
    return rows


def _groups(
    handles: Handles, table: TableSpec, tenant_id: str, spool: Spool
) -> Iterator[list[int]]:
    """Buckets with spooled rows, grouped so that a group holds at most MERGE_TARGET_ROWS
    existing rows of each table and as many spooled rows (a bucket above that is alone)."""
    names = (table.name, *(c.name for c in table.children))
    existing = [_rows_by_bucket(handles.get(name), tenant_id) for name in names]
    group: list[int] = []
    sizes = [0] * (len(names) + 1)
    for bucket in sorted(spool.rows):
        adds = [rows.get(bucket, 0) for rows in existing] + [spool.rows[bucket]]
        if group and any(s + a > MERGE_TARGET_ROWS for s, a in zip(sizes, adds, strict=True)):
            yield group
            group, sizes = [], [0] * len(sizes)
        group.append(bucket)
        sizes = [s + a for s, a in zip(sizes, adds, strict=True)]
    if group:
        yield group


def _versions(table: TableSpec, batch: pa.RecordBatch) -> list[Any]:
    """Each spooled row's version: its `UpdatedDateUTC` in microseconds (null when it did
    not parse: ranks as the oldest copy), its batch id, or None (append-only)."""
    column = table.version_column
    if column is None:
        return [None] * batch.num_rows
    values = batch.column(column)
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.int64())
    return cast(list[Any], values.to_pylist())


def _newer(table: TableSpec, new: Any, old: Any) -> bool:
    if table.version == "append":
        return False
    if old is None:
        return new is not None
    return new is not None and new > old


def _current_versions(
    dt: DeltaTable, table: TableSpec, tenant_id: str, buckets: list[int], ids: list[Any]
) -> dict[Any, Any]:
    column = table.version_column
    columns = [table.id_field] if column is None else [table.id_field, column]
    found = scan(dt, tenant_id, buckets, columns, table.id_field, ids)
    keys = found.column(table.id_field).to_pylist()
    if column is None:
        return dict.fromkeys(keys)
    values = found.column(column)
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.int64())
    return dict(zip(keys, values.to_pylist(), strict=True))


def _best(table: TableSpec, spool: Spool, group: list[int]) -> dict[Any, tuple[Any, int]]:
    """Per id, the version and `_seq` of the copy that wins within the spooled rows."""
    best: dict[Any, tuple[Any, int]] = {}
    columns = [table.id_field, SEQ] + (
        [] if table.version_column is None else [table.version_column]
    )
    for batch in spool.batches(table.name, group, columns):
        keys = batch.column(table.id_field).to_pylist()
        seqs = batch.column(SEQ).to_pylist()
        for key, version, seq in zip(keys, _versions(table, batch), seqs, strict=True):
            held = best.get(key)
            if held is None:
                best[key] = (version, seq)
            elif table.version != "append" and not _newer(table, held[0], version):
                best[key] = (version, seq)  # a tie goes to the copy landed last
    return best


def _gather(
    spool: Spool, name: str, group: list[int], column: str, chosen: pa.Array, empty: pa.Schema
) -> pa.Table:
    """The spooled rows of `name` in `group` whose `column` is in `chosen`, without it."""
    parts = [
        pa.Table.from_batches([batch.filter(pc.is_in(batch.column(column), value_set=chosen))])
        for batch in spool.batches(name, group)
    ]
    rows = pa.concat_tables(parts, promote_options="default") if parts else empty.empty_table()
    return rows.drop_columns([column])


def _merge_group(
    handles: Handles,
    table: TableSpec,
    tenant_id: str,
    spool: Spool,
    group: list[int],
    result: MergeResult,
    merge_rows: int,
    retention_days: int,
) -> None:
    best = _best(table, spool, group)
    dt = handles.get(table.name)
    current = {} if dt is None else _current_versions(dt, table, tenant_id, group, list(best))
    winners = sorted(
        seq
        for key, (version, seq) in best.items()
        if key not in current or _newer(table, version, current[key])
    )
    held = {seq for key, (_, seq) in best.items() if key in current}
    del best, current
    result.winners += len(winners)
    buckets = (spool.buckets, group)
    for start in range(0, len(winners), merge_rows):
        seqs = winners[start : start + merge_rows]
        # Only new ids: nothing to match, so an append (no join against the table) will do.
        fresh = held.isdisjoint(seqs)
        chosen = pa.array(seqs, pa.int64())
        parent = _gather(spool, table.name, group, SEQ, chosen, pa.schema([]))
        batches = sorted({batch for batch in parent.column(BATCH).to_pylist()})
        metadata = {"oauth_etl.tenant_id": tenant_id, "oauth_etl.batches": batches}
        write = ChunkWrite(handles, tenant_id, metadata, retention_days, fresh, *buckets)
        parent_ids = parent.column(table.id_field).to_pylist()
        for child in table.children:
            empty = (
                child_shape(table.name, child.name)
                .schema()
                .append(pa.field(BUCKET, pa.int32()))
                .append(pa.field(OWNER, pa.int64()))
            )
            rows = _gather(spool, child.name, group, OWNER, chosen, empty)
            counts = result.children[child.name]
            merge_child(write, child.name, rows, child.parent_id, parent_ids, counts)
        merge_parent(write, table, parent, result.parent)

"""Merge landed records into the endpoint's Delta table and its child tables.

Records are converted `chunk_records` at a time and merged `merge_rows` rows at a time,
whatever the batch size. Per merge: the copies of an id within those rows are reduced to
the one the version rule (`model.py`) prefers, the table's current versions of those ids are
read, and only newer copies (the "winners") are written. Nothing newer, nothing written:
replaying a batch adds no version.

Child tables are written before their parent. Each write is an atomic Delta commit, so a
failure leaves every table at a readable version; after one, the parent may still hold the
old copy while its lines are the new ones, and the rerun sees the same winners and completes
the parent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from azure.storage.blob import ContainerClient
from deltalake import DeltaTable

from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records
from oauth_etl.tables.columns import parse_instant_us
from oauth_etl.tables.convert import ConversionStats, Converted, convert_records
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import BATCH, TableSpec
from oauth_etl.tables.writes import (
    Handles,
    TableCounts,
    merge_child,
    merge_parent,
    scan,
)
from oauth_etl.xero.catalog import UPDATED

DEFAULT_CHUNK_RECORDS = 5_000  # records converted at a time
DEFAULT_MERGE_ROWS = 10_000  # rows merged per Delta commit and table
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


def merge_batches(
    store: TableStore,
    table: TableSpec,
    container: ContainerClient,
    manifests: Iterable[Manifest],
    *,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    merge_rows: int = DEFAULT_MERGE_ROWS,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> MergeResult:
    """Merge landed batches (one tenant, oldest first) into `table`, streaming their parts."""
    manifests = list(manifests)
    tenants = {m.tenant_id for m in manifests}
    if len(tenants) > 1:
        raise ValueError(f"merge one tenant's batches at a time, got {sorted(tenants)}")
    if not manifests:
        return MergeResult(table.name, "", children={c.name: TableCounts() for c in table.children})

    def pairs() -> Iterator[Pair]:
        for manifest in manifests:
            for record in iter_records(container, manifest):
                yield manifest.batch_id, record

    result = merge_records(
        store,
        table,
        manifests[0].tenant_id,
        pairs(),
        chunk_records=chunk_records,
        merge_rows=merge_rows,
        retention_days=retention_days,
    )
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
) -> MergeResult:
    """Merge (batch id, record) pairs of one tenant, in landing order.

    Records are converted `chunk_records` at a time (Python objects are the large part of
    memory) and merged `merge_rows` rows at a time (each merge reads the current versions
    of its ids once, so fewer, larger merges scan the table less).
    """
    if chunk_records < 1 or merge_rows < 1:
        raise ValueError("chunk_records and merge_rows must be positive")
    result = MergeResult(table.name, tenant_id)
    result.children = {child.name: TableCounts() for child in table.children}
    pending = _Pending(table)
    handles = Handles(store)
    iterator = iter(pairs)
    while chunk := list(islice(iterator, chunk_records)):
        result.records_read += len(chunk)
        keyed = [pair for pair in chunk if pair[1].get(table.id_field) is not None]
        result.without_id += len(chunk) - len(keyed)
        pending.add(keyed, convert_records(table, tenant_id, keyed))
        del chunk, keyed
        if pending.rows >= merge_rows:
            _flush(handles, table, tenant_id, pending, result, retention_days)
            pending = _Pending(table)
            pa.default_memory_pool().release_unused()  # give freed Arrow buffers back
    _flush(handles, table, tenant_id, pending, result, retention_days)
    tables = {table.name: result.parent, **result.children}
    for name, counts in tables.items():
        if counts.version is None:  # nothing newer: report the version in place
            dt = handles.get(name)
            counts.version = None if dt is None else dt.version()
    return result


class _Pending:
    """Converted rows waiting for their merge, with what deciding the winners needs."""

    def __init__(self, table: TableSpec) -> None:
        self.table = table
        self.keys: list[Any] = []
        self.versions: list[Any] = []
        self.parents: list[pa.Table] = []
        self.children: dict[str, list[pa.Table]] = {c.name: [] for c in table.children}
        self.owners: dict[str, list[int]] = {c.name: [] for c in table.children}
        self.stats = ConversionStats()
        self.child_stats = {c.name: ConversionStats() for c in table.children}

    @property
    def rows(self) -> int:
        return len(self.keys)

    def add(self, pairs: list[Pair], converted: Converted) -> None:
        offset = len(self.keys)
        for batch_id, record in pairs:
            self.keys.append(record[self.table.id_field])
            self.versions.append(_version_of(self.table, batch_id, record))
        self.parents.append(converted.parent)
        self.stats.add(converted.stats)
        for name, child in converted.children.items():
            self.children[name].append(child)
            self.owners[name].extend(offset + o for o in converted.child_owners[name])
            self.child_stats[name].add(converted.child_stats[name])

    def best(self) -> dict[Any, tuple[Any, int]]:
        """Per id, the version and row of the copy that wins within these rows."""
        best: dict[Any, tuple[Any, int]] = {}
        table = self.table
        for row, (key, version) in enumerate(zip(self.keys, self.versions, strict=True)):
            held = best.get(key)
            if held is None:
                best[key] = (version, row)
            elif table.version != "append" and not _newer(table, held[0], version):
                best[key] = (version, row)  # a tie goes to the copy landed last
        return best


def _version_of(table: TableSpec, batch_id: str, record: Mapping[str, Any]) -> Any:
    if table.version == "updated":
        stamp = record.get(UPDATED)
        try:
            return parse_instant_us(stamp) if isinstance(stamp, str) else None
        except ValueError:
            return None  # kept raw by the conversion; ranks as the oldest copy
    return batch_id


def _newer(table: TableSpec, new: Any, old: Any) -> bool:
    if table.version == "append":
        return False
    if old is None:
        return new is not None
    return new is not None and new > old


def _current_versions(
    dt: DeltaTable, table: TableSpec, tenant_id: str, ids: list[Any]
) -> dict[Any, Any]:
    column = table.version_column
    columns = [table.id_field] if column is None else [table.id_field, column]
    found = scan(dt, tenant_id, columns, table.id_field, ids)
    keys = found.column(table.id_field).to_pylist()
    if column is None:
        return dict.fromkeys(keys)
    values = found.column(column)
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.int64())
    return dict(zip(keys, values.to_pylist(), strict=True))


def _flush(
    handles: Handles,
    table: TableSpec,
    tenant_id: str,
    pending: _Pending,
    result: MergeResult,
    retention_days: int,
) -> None:
    if not pending.rows:
        return
    best = pending.best()
    dt = handles.get(table.name)
    current = {} if dt is None else _current_versions(dt, table, tenant_id, list(best))
    winners = sorted(
        row
        for key, (version, row) in best.items()
        if key not in current or _newer(table, version, current[key])
    )
    result.winners += len(winners)
    if not winners:
        return
    # Only new ids: nothing to match, so an append (no join against the table) will do.
    fresh = not any(pending.keys[row] in current for row in winners)
    chosen = pa.array(winners, type=pa.int64())
    parent = pa.concat_tables(pending.parents, promote_options="default").take(chosen)
    batches = sorted({batch for batch in parent.column(BATCH).to_pylist()})
    metadata = {"oauth_etl.tenant_id": tenant_id, "oauth_etl.batches": batches}
    parent_ids = [pending.keys[row] for row in winners]
    for child in table.children:
        rows = pa.concat_tables(pending.children[child.name], promote_options="default")
        keep = pc.is_in(pa.array(pending.owners[child.name], pa.int64()), value_set=chosen)
        counts = result.children[child.name]
        merge_child(
            handles,
            child.name,
            rows.filter(keep),
            tenant_id,
            child.parent_id,
            parent_ids,
            counts,
            metadata,
            retention_days,
            fresh,
        )
        counts.conversion.add(pending.child_stats[child.name])
    result.parent.conversion.add(pending.stats)
    merge_parent(handles, table, parent, tenant_id, result.parent, metadata, retention_days, fresh)

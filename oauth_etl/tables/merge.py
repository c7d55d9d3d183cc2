"""Merge landed records into the endpoint's Delta table and its child tables.

Chunk by chunk (`chunk_records` records at a time, whatever the batch size): deduplicate the
chunk by id (the version rule of `model.py` decides), read the current versions of those
ids from the table, keep the records that are newer (the "winners"), convert only those, and
merge them. A chunk without winners writes nothing, so replaying a batch adds no version.

Each Delta commit is atomic: a merge that fails leaves the previous version in place and
readable (files it wrote without committing are invisible, and vacuum removes them). Child
tables are merged before the parent: should the parent's merge fail, the next run sees the
same winners again and rewrites the same child rows, so children never lag their parent.
A child table replaces its parent's rows as a whole: rows of a winning parent are updated by
position, inserted, or deleted when the parent's new array is shorter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from azure.storage.blob import ContainerClient
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records
from oauth_etl.tables.columns import parse_instant_us
from oauth_etl.tables.convert import ConversionStats, Converted, convert_records
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import BATCH, LINE, TENANT, TableSpec
from oauth_etl.xero.catalog import UPDATED

DEFAULT_CHUNK_RECORDS = 5_000  # records converted at a time
DEFAULT_MERGE_ROWS = 10_000  # rows merged per Delta commit and table
DEFAULT_RETENTION_DAYS = 30
COMMIT_RETRIES = 5  # delta-rs retries a commit that lost a race, then raises

Pair = tuple[str, Mapping[str, Any]]  # (batch id, record)


@dataclass
class TableCounts:
    version: int | None = None  # the Delta version after the last commit (None: no table)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    commits: int = 0
    conversion: ConversionStats = field(default_factory=ConversionStats)


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


def quote(name: str) -> str:
    """A column name for delta-rs SQL: quoted, as names are case-sensitive."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def open_table(store: TableStore, name: str) -> DeltaTable | None:
    """The table's latest version, or None when there is no table yet."""
    try:
        return DeltaTable(store.uri(name), storage_options=store.storage_options())
    except TableNotFoundError:
        return None


class _Handles:
    """Tables opened once per merge: delta-rs keeps a handle current after its own writes,
    and reading the log again for every step cost a third of a first load."""

    def __init__(self, store: TableStore) -> None:
        self.store = store
        self._open: dict[str, DeltaTable] = {}

    def get(self, name: str) -> DeltaTable | None:
        found = self._open.get(name)
        if found is None:
            found = open_table(self.store, name)
            if found is not None:
                self._open[name] = found
        return found


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
        return MergeResult(table.name, "")

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
    handles = _Handles(store)
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


def _scan(
    dt: DeltaTable, tenant_id: str, columns: list[str], key: str, values: list[Any]
) -> pa.Table:
    """The rows of one tenant whose `key` is in `values`, batch by batch: only the matches
    are held. (Filtering in the scanner fails on delta-rs's string_view file statistics.)"""
    dataset = dt.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)])
    wanted = pa.array(values, type=dataset.schema.field(key).type)
    kept = [
        batch.filter(pc.is_in(batch.column(key), value_set=wanted))
        # No readahead: the scan holds one batch at a time, however large the table.
        for batch in dataset.to_batches(columns=columns, batch_readahead=0, fragment_readahead=0)
    ]
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    return pa.Table.from_batches(kept, schema=schema)


def _current_versions(
    dt: DeltaTable, table: TableSpec, tenant_id: str, ids: list[Any]
) -> dict[Any, Any]:
    column = table.version_column
    columns = [table.id_field] if column is None else [table.id_field, column]
    found = _scan(dt, tenant_id, columns, table.id_field, ids)
    keys = found.column(table.id_field).to_pylist()
    if column is None:
        return dict.fromkeys(keys)
    values = found.column(column)
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.int64())
    return dict(zip(keys, values.to_pylist(), strict=True))


def _flush(
    handles: _Handles,
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
        _merge_child(
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
    _merge_parent(handles, table, parent, tenant_id, result.parent, metadata, retention_days, fresh)


def _append(
    handles: _Handles,
    name: str,
    dt: DeltaTable | None,
    data: pa.Table,
    counts: TableCounts,
    metadata: dict[str, Any],
    retention_days: int,
) -> None:
    """Rows whose keys the table lacks: an append, which creates the table the first time."""
    if data.num_rows == 0 and dt is not None:
        return
    commit = CommitProperties(custom_metadata=metadata, max_commit_retries=COMMIT_RETRIES)
    if dt is None:
        interval = f"interval {retention_days} days"
        write_deltalake(
            handles.store.uri(name),
            data,
            partition_by=[TENANT],
            mode="append",
            storage_options=handles.store.storage_options(),
            # Time travel needs both the log and the data files of old versions.
            configuration={
                "delta.logRetentionDuration": interval,
                "delta.deletedFileRetentionDuration": interval,
            },
            commit_properties=commit,
        )
    else:
        write_deltalake(
            dt, _aligned(dt, data), mode="append", schema_mode="merge", commit_properties=commit
        )
    written = handles.get(name)
    assert written is not None
    counts.version = written.version()
    counts.inserted += data.num_rows
    counts.commits += 1


def _aligned(dt: DeltaTable, data: pa.Table) -> pa.Table:
    """Give the source every column of the table: a field a record no longer carries is null
    (not left at its old value); a field the table lacks is added by merge_schema."""
    target = pa.schema(dt.schema().to_arrow())
    for target_field in target:
        if data.schema.get_field_index(target_field.name) < 0:
            data = data.append_column(target_field, pa.nulls(data.num_rows, target_field.type))
    return data


def _count(counts: TableCounts, metrics: Mapping[str, Any]) -> None:
    counts.inserted += int(metrics.get("num_target_rows_inserted", 0))
    counts.updated += int(metrics.get("num_target_rows_updated", 0))
    counts.deleted += int(metrics.get("num_target_rows_deleted", 0))
    counts.commits += 1


def _merge_parent(
    handles: _Handles,
    table: TableSpec,
    data: pa.Table,
    tenant_id: str,
    counts: TableCounts,
    metadata: dict[str, Any],
    retention_days: int,
    fresh: bool,
) -> None:
    dt = handles.get(table.name)
    if dt is None or fresh:
        _append(handles, table.name, dt, data, counts, metadata, retention_days)
        return
    key = quote(table.id_field)
    on = f"t.{TENANT} = {literal(tenant_id)} AND s.{TENANT} = t.{TENANT} AND s.{key} = t.{key}"
    merger = dt.merge(
        _aligned(dt, data),
        predicate=on,
        source_alias="s",
        target_alias="t",
        merge_schema=True,
        commit_properties=CommitProperties(
            custom_metadata=metadata, max_commit_retries=COMMIT_RETRIES
        ),
    )
    column = table.version_column
    if column is not None:
        # The guard repeats the winner test inside the commit (another writer may have won).
        newer = f"s.{quote(column)} > t.{quote(column)} OR t.{quote(column)} IS NULL"
        merger = merger.when_matched_update_all(predicate=newer)
    metrics = merger.when_not_matched_insert_all().execute()
    _count(counts, metrics)
    counts.version = dt.version()


def _merge_child(
    handles: _Handles,
    name: str,
    data: pa.Table,
    tenant_id: str,
    parent_id: str,
    parent_ids: list[Any],
    counts: TableCounts,
    metadata: dict[str, Any],
    retention_days: int,
    fresh: bool,
) -> None:
    dt = handles.get(name)
    if dt is None or fresh:  # new parents have no lines yet
        _append(handles, name, dt, data, counts, metadata, retention_days)
        return
    # Lines a changed parent no longer has: its old positions past its new array's end.
    # They join the source as markers (no batch id) that delete their match, so the
    # whole replacement is one commit and needs no id list in a SQL predicate.
    old = _scan(dt, tenant_id, [parent_id, LINE], parent_id, parent_ids)
    new_ends: dict[Any, int] = {}
    for parent, line in zip(
        data.column(parent_id).to_pylist(), data.column(LINE).to_pylist(), strict=True
    ):
        new_ends[parent] = max(new_ends.get(parent, 0), line + 1)
    stale = [
        (parent, line)
        for parent, line in zip(
            old.column(parent_id).to_pylist(), old.column(LINE).to_pylist(), strict=True
        )
        if line >= new_ends.get(parent, 0)
    ]
    source = _aligned(dt, data)
    if stale:
        markers = {f.name: pa.nulls(len(stale), f.type) for f in source.schema}
        markers[TENANT] = pa.array([tenant_id] * len(stale), pa.string())
        markers[parent_id] = pa.array([p for p, _ in stale], source.schema.field(parent_id).type)
        markers[LINE] = pa.array([line for _, line in stale], pa.int32())
        source = pa.concat_tables([source, pa.table(markers, schema=source.schema)])
    if source.num_rows == 0:
        return
    parent = quote(parent_id)
    tenant = f"t.{TENANT} = {literal(tenant_id)}"
    on = f"{tenant} AND s.{TENANT} = t.{TENANT} AND s.{parent} = t.{parent} AND s.{LINE} = t.{LINE}"
    marker = f"s.{BATCH} IS NULL"
    metrics = (
        dt.merge(
            source,
            predicate=on,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            commit_properties=CommitProperties(
                custom_metadata=metadata, max_commit_retries=COMMIT_RETRIES
            ),
        )
        .when_matched_delete(predicate=marker)
        .when_matched_update_all(predicate=f"s.{BATCH} IS NOT NULL")
        .when_not_matched_insert_all(predicate=f"s.{BATCH} IS NOT NULL")
        .execute()
    )
    _count(counts, metrics)
    counts.version = dt.version()

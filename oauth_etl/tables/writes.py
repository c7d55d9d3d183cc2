"""The Delta writes of a merge: appends of new keys, keyed merges, child replacement.

Every write is one atomic Delta commit. Tables are created partitioned by `tenant_id` and
`_bucket` (spool.py: a stable hash of the id), with log and deleted-file retention set to
the time-travel window, so old versions stay readable until vacuum may drop them. A merge
names its buckets in the predicate, so delta-rs reads and rewrites only their files. The
table's description records its bucket count, which must never change for its life.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError
from deltalake.table import TableMerger

from oauth_etl.tables.convert import ConversionStats
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import BATCH, BUCKET, LINE, TENANT, TableSpec

COMMIT_RETRIES = 5  # delta-rs retries a commit that lost a race, then raises
# A writer holds a row group in memory until it is full: small row groups keep a merge that
# rewrites a whole tenant's files from holding them all (Parquet's default is 1M rows).
WRITER = WriterProperties(max_row_group_size=8_192)
BUCKETS_NOTE = "oauth_etl buckets="  # the description of a table: its bucket count follows


class LayoutError(RuntimeError):
    """A table not laid out as this version writes them (e.g. made before `_bucket`)."""


def table_buckets(dt: DeltaTable, uri: str) -> int:
    """The bucket count a table was created with (its description records it)."""
    metadata = dt.metadata()
    note = metadata.description or ""
    if list(metadata.partition_columns) != [TENANT, BUCKET] or not note.startswith(BUCKETS_NOTE):
        raise LayoutError(
            f"the Delta table at {uri} is partitioned by {list(metadata.partition_columns)}, "
            f"not [{TENANT}, {BUCKET}] (made by an earlier version): delete its folder and "
            "materialize it again, the tables are rebuilt from the landed batches"
        )
    return int(note.removeprefix(BUCKETS_NOTE))


@dataclass
class TableCounts:
    version: int | None = None  # the Delta version after the last commit (None: no table)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    commits: int = 0
    conversion: ConversionStats = field(default_factory=ConversionStats)


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


class Handles:
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


def in_buckets(alias: str, tenant_id: str, buckets: list[int]) -> str:
    """SQL naming a tenant's buckets: delta-rs prunes the other partitions' files with it."""
    listed = ", ".join(str(int(b)) for b in buckets)
    at = f"{alias}." if alias else ""
    return f"{at}{TENANT} = {literal(tenant_id)} AND {at}{BUCKET} IN ({listed})"


def scan(
    dt: DeltaTable,
    tenant_id: str,
    buckets: list[int],
    columns: list[str],
    key: str,
    values: list[Any] | None,
) -> pa.Table:
    """The rows of one tenant's buckets whose `key` is in `values` (None: all), batch by
    batch: only the matches are held. (Filtering in the scanner fails on delta-rs's
    string_view file statistics.)"""
    wanted_buckets = [str(b) for b in buckets]
    dataset = dt.to_pyarrow_dataset(
        partitions=[(TENANT, "=", tenant_id), (BUCKET, "in", wanted_buckets)]
    )
    wanted = None if values is None else pa.array(values, type=dataset.schema.field(key).type)
    kept = [
        batch if wanted is None else batch.filter(pc.is_in(batch.column(key), value_set=wanted))
        # No readahead: the scan holds one batch at a time, however large the table.
        for batch in dataset.to_batches(columns=columns, batch_readahead=0, fragment_readahead=0)
    ]
    schema = pa.schema([dataset.schema.field(c) for c in columns])
    return pa.Table.from_batches(kept, schema=schema)


@dataclass(frozen=True)
class ChunkWrite:
    """What every write of one merged chunk shares: where, for whom, and how it commits."""

    handles: Handles
    tenant_id: str
    metadata: dict[str, Any]  # the commit's custom metadata (tenant, batches)
    retention_days: int
    fresh: bool  # only new ids: an append will do
    buckets: int  # the table's bucket count
    touched: list[int]  # the buckets this chunk's rows fall in

    def on(self, *keys: str) -> str:
        """The merge predicate: the chunk's buckets of the tenant, then the keys."""
        matched = " AND ".join(f"s.{key} = t.{key}" for key in (TENANT, BUCKET, *keys))
        return f"{in_buckets('t', self.tenant_id, self.touched)} AND {matched}"

    def merge(self, dt: DeltaTable, source: pa.Table, predicate: str) -> TableMerger:
        return dt.merge(
            source,
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            writer_properties=WRITER,
            commit_properties=commit_properties(self.metadata),
        )


def commit_properties(metadata: dict[str, Any]) -> CommitProperties:
    return CommitProperties(custom_metadata=metadata, max_commit_retries=COMMIT_RETRIES)


def append(
    write: ChunkWrite, name: str, dt: DeltaTable | None, data: pa.Table, counts: TableCounts
) -> None:
    """Rows whose keys the table lacks: an append, which creates the table the first time."""
    if data.num_rows == 0 and dt is not None:
        return
    handles = write.handles
    commit = commit_properties(write.metadata)
    if dt is None:
        interval = f"interval {write.retention_days} days"
        write_deltalake(
            handles.store.uri(name),
            data,
            partition_by=[TENANT, BUCKET],
            mode="append",
            description=f"{BUCKETS_NOTE}{write.buckets}",
            storage_options=handles.store.storage_options(),
            # Time travel needs both the log and the data files of old versions.
            configuration={
                "delta.logRetentionDuration": interval,
                "delta.deletedFileRetentionDuration": interval,
            },
            commit_properties=commit,
            writer_properties=WRITER,
        )
    else:
        write_deltalake(
            dt,
            aligned(dt, data),
            mode="append",
            schema_mode="merge",
            commit_properties=commit,
            writer_properties=WRITER,
        )
    written = handles.get(name)
    assert written is not None
    counts.version = written.version()
    counts.inserted += data.num_rows
    counts.commits += 1


def aligned(dt: DeltaTable, data: pa.Table) -> pa.Table:
    """Give the source every column of the table: a field a record no longer carries is null
    (not left at its old value); a field the table lacks is added by merge_schema."""
    target = pa.schema(dt.schema().to_arrow())
    for target_field in target:
        if data.schema.get_field_index(target_field.name) < 0:
            data = data.append_column(target_field, pa.nulls(data.num_rows, target_field.type))
    return data


def count_metrics(counts: TableCounts, metrics: Mapping[str, Any]) -> None:
    counts.inserted += int(metrics.get("num_target_rows_inserted", 0))
    counts.updated += int(metrics.get("num_target_rows_updated", 0))
    counts.deleted += int(metrics.get("num_target_rows_deleted", 0))
    counts.commits += 1


def merge_parent(write: ChunkWrite, table: TableSpec, data: pa.Table, counts: TableCounts) -> None:
    """Merge a parent's newer copies."""
    dt = write.handles.get(table.name)
    if dt is None or write.fresh:
        append(write, table.name, dt, data, counts)
        return
    merger = write.merge(dt, aligned(dt, data), write.on(quote(table.id_field)))
    column = table.version_column
    if column is not None:
        # The guard repeats the winner test inside the commit (another writer may have won).
        newer = f"s.{quote(column)} > t.{quote(column)} OR t.{quote(column)} IS NULL"
        merger = merger.when_matched_update_all(predicate=newer)
    metrics = merger.when_not_matched_insert_all().execute()
    count_metrics(counts, metrics)
    counts.version = dt.version()


def merge_child(
    write: ChunkWrite,
    name: str,
    data: pa.Table,
    parent_id: str,
    parent_ids: list[Any],
    counts: TableCounts,
) -> None:
    dt = write.handles.get(name)
    if dt is None or write.fresh:  # new parents have no lines yet
        append(write, name, dt, data, counts)
        return
    tenant_id = write.tenant_id
    # Lines a changed parent no longer has: its old positions past its new array's end.
    # They join the source as markers (no batch id) that delete their match, so the
    # whole replacement is one commit and needs no id list in a SQL predicate.
    old = scan(dt, tenant_id, write.touched, [parent_id, BUCKET, LINE], parent_id, parent_ids)
    new_ends: dict[Any, int] = {}
    for parent, line in zip(
        data.column(parent_id).to_pylist(), data.column(LINE).to_pylist(), strict=True
    ):
        new_ends[parent] = max(new_ends.get(parent, 0), line + 1)
    stale = [
        (parent, bucket, line)
        for parent, bucket, line in zip(
            old.column(parent_id).to_pylist(),
            old.column(BUCKET).to_pylist(),
            old.column(LINE).to_pylist(),
            strict=True,
        )
        if line >= new_ends.get(parent, 0)
    ]
    source = aligned(dt, data)
    if stale:
        markers = {f.name: pa.nulls(len(stale), f.type) for f in source.schema}
        markers[TENANT] = pa.array([tenant_id] * len(stale), pa.string())
        markers[parent_id] = pa.array([p for p, _, _ in stale], source.schema.field(parent_id).type)
        markers[BUCKET] = pa.array([b for _, b, _ in stale], pa.int32())
        markers[LINE] = pa.array([line for _, _, line in stale], pa.int32())
        source = pa.concat_tables([source, pa.table(markers, schema=source.schema)])
    if source.num_rows == 0:
        return
    marker = f"s.{BATCH} IS NULL"
    metrics = (
        write.merge(dt, source, write.on(quote(parent_id), LINE))
        .when_matched_delete(predicate=marker)
        .when_matched_update_all(predicate=f"s.{BATCH} IS NOT NULL")
        .when_not_matched_insert_all(predicate=f"s.{BATCH} IS NOT NULL")
        .execute()
    )
    count_metrics(counts, metrics)
    counts.version = dt.version()

"""Records a snapshot endpoint no longer returns: deleted from the table after a full read.

Endpoints without If-Modified-Since (`incremental=False` in the catalog: tax rates,
currencies, tracking categories ...) are read whole every run, and a complete batch of one
(`Manifest.complete`) lists every record Xero still has. A row of the tenant whose id is
absent from it was deleted in Xero: it is deleted from the table in its own commit after
the merge, so time travel still shows it. Batches landed after that snapshot count as
present too. Never for an incremental endpoint or without a complete snapshot: such
batches list only some records.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from oauth_etl.storage.manifest import Manifest
from oauth_etl.tables.model import TableSpec
from oauth_etl.tables.spool import bucket_of
from oauth_etl.tables.writes import (
    WRITER,
    Handles,
    TableCounts,
    commit_properties,
    in_buckets,
    literal,
    quote,
    scan,
    table_buckets,
)

DELETE_IDS = 500  # ids per delete predicate (SQL text stays short)


def is_full_snapshot(table: TableSpec, manifest: Manifest) -> bool:
    """A complete read of an endpoint that is read whole every run."""
    return not table.endpoint.incremental and manifest.complete


def snapshot_start(table: TableSpec, manifests: Sequence[Manifest]) -> int | None:
    """The index of the last full snapshot among batches oldest first (None: there is none).
    It and the batches after it hold every id Xero still has."""
    for index in range(len(manifests) - 1, -1, -1):
        if is_full_snapshot(table, manifests[index]):
            return index
    return None


def delete_absent(
    handles: Handles,
    table: TableSpec,
    tenant_id: str,
    present: Collection[Any],
    counts: TableCounts,
    batch_id: str,
) -> None:
    """Delete the tenant's rows whose id is not in `present` (the ids of a full snapshot)."""
    if table.children:  # no snapshot endpoint has child tables (model.CHILDREN)
        raise ValueError(f"{table.name} has child tables: its deletions would orphan them")
    dt = handles.get(table.name)
    if dt is None:
        return
    buckets = table_buckets(dt, handles.store.uri(table.name))
    held = scan(dt, tenant_id, list(range(buckets)), [table.id_field], table.id_field, None)
    absent = sorted(set(held.column(table.id_field).to_pylist()) - set(present))
    metadata = {"oauth_etl.tenant_id": tenant_id, "oauth_etl.absent_from": batch_id}
    for start in range(0, len(absent), DELETE_IDS):
        ids = absent[start : start + DELETE_IDS]
        touched = sorted({bucket_of(key, buckets) for key in ids})
        listed = ", ".join(literal(str(key)) for key in ids)
        predicate = (
            f"{in_buckets('', tenant_id, touched)} AND {quote(table.id_field)} IN ({listed})"
        )
        metrics = dt.delete(
            predicate,
            writer_properties=WRITER,
            commit_properties=commit_properties(metadata),
        )
        counts.deleted += int(metrics.get("num_deleted_rows", 0))
        counts.commits += 1
        counts.version = dt.version()

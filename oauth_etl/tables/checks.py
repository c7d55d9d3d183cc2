"""What the per-table asset check compares: distinct ids in the table and in the batches.

Every id that landed for a tenant must have exactly one row in the table (the newest copy
wins, none is lost), so the two counts are equal after a complete merge. For a snapshot
endpoint, the ids landed from its last complete snapshot on (snapshots.py). Both sides stream:
the table side reads only the id column of the tenant's files; the landed side holds one
set of ids (about 100 bytes per id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow.compute as pc
from azure.storage.blob import ContainerClient

from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT, TableSpec
from oauth_etl.tables.snapshots import snapshot_start
from oauth_etl.tables.upkeep import table


@dataclass(frozen=True)
class IdCheck:
    table: str
    tenant_id: str
    table_rows: int
    table_ids: int  # distinct ids in the table: equal to its rows unless a key repeats
    landed_ids: int

    @property
    def passed(self) -> bool:
        return self.table_rows == self.table_ids == self.landed_ids

    def describe(self) -> str:
        return (
            f"{self.table} / {self.tenant_id}: {self.table_rows} row(s), {self.table_ids} "
            f"distinct id(s) in the table, {self.landed_ids} distinct id(s) landed"
        )


def table_ids(store: TableStore, spec: TableSpec, tenant_id: str) -> tuple[int, int]:
    """(rows, distinct ids) of one tenant in the table."""
    dataset = table(store, spec.name).to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)])
    ids = dataset.to_table(columns=[spec.id_field]).column(spec.id_field)
    return len(ids), int(pc.count_distinct(ids, mode="only_valid").as_py())


def landed_ids(container: ContainerClient, spec: TableSpec, manifests: Iterable[Manifest]) -> int:
    """Distinct ids across landed batches (records without an id are not counted); for a
    snapshot endpoint, from its last complete snapshot on (older ids were deleted)."""
    manifests = sorted(manifests, key=lambda m: m.batch_id)  # batch ids sort by time
    since = snapshot_start(spec, manifests)
    seen: set[object] = set()
    for manifest in manifests[since or 0 :]:
        for record in iter_records(container, manifest):
            key = record.get(spec.id_field)
            if key is not None:
                seen.add(key)
    return len(seen)


def check_ids(
    store: TableStore,
    spec: TableSpec,
    container: ContainerClient,
    tenant_id: str,
    manifests: Iterable[Manifest],
) -> IdCheck:
    rows, distinct = table_ids(store, spec, tenant_id)
    return IdCheck(spec.name, tenant_id, rows, distinct, landed_ids(container, spec, manifests))

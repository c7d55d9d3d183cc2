"""The table assets' input: the landed batches a table has not merged yet.

`LandedBatchesIOManager` is the blob landing IO manager (it lands a `LandingBatch` the same
way) whose `load_input` returns the *batches* rather than a stream of records: a merge
needs each record's batch id (the `_batch_id` column, and the newest-batch rule of
snapshots). The table asset picks which: those committed after its last merged batch, named by the
`last_batch_id` metadata of its latest materialization for the tenant (`last_merged`).
Replaying is harmless (a merge keeps only newer copies), so when that record is missing,
or the table is, everything is read again.
"""

# No `from __future__ import annotations`: Dagster inspects the ResourceDependency
# annotation at class creation.

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import dagster as dg
from azure.storage.blob import ContainerClient

from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.storage.manifest import Manifest, parse_utc
from oauth_etl.storage.reader import iter_records, list_batches

LAST_BATCH = "last_batch_id"  # table materialization metadata: the newest batch merged
LAST_EXTRACTED = "last_batch_extracted_at"


@dataclass(frozen=True)
class LandedBatches:
    """One tenant's landed batches of one endpoint; listed when asked (oldest first)."""

    container: ContainerClient
    prefix: str
    source: str
    endpoint: str
    tenant_id: str

    def all(self) -> list[Manifest]:
        return list_batches(
            self.container,
            prefix=self.prefix,
            source=self.source,
            tenant_id=self.tenant_id,
            endpoint=self.endpoint,
        )

    def new(self, after: str | None, after_extracted_at: str | None = None) -> list[Manifest]:
        """The batches committed after batch `after` (every batch when it is None); its
        `extracted_at` spares downloading the manifests of older batches."""
        if after is None:
            return self.all()
        since = parse_utc(after_extracted_at) if after_extracted_at else None
        found = list_batches(
            self.container,
            prefix=self.prefix,
            source=self.source,
            tenant_id=self.tenant_id,
            endpoint=self.endpoint,
            since=since,
        )
        return [m for m in found if m.batch_id > after]

    def records(self, manifests: list[Manifest]) -> Iterator[dict[str, Any]]:
        for manifest in manifests:
            yield from iter_records(self.container, manifest)


def last_merged(
    instance: dg.DagsterInstance, table_key: dg.AssetKey, tenant_id: str
) -> tuple[str | None, str | None]:
    """(batch id, extracted_at) of the newest batch the table's latest run merged."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=table_key, asset_partitions=[tenant_id]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None, None
    metadata = records[0].asset_materialization.metadata
    found = [getattr(metadata.get(k), "value", None) for k in (LAST_BATCH, LAST_EXTRACTED)]
    return tuple(v if isinstance(v, str) and v else None for v in found)  # type: ignore[return-value]


def unmerged(
    instance: dg.DagsterInstance,
    table_key: dg.AssetKey,
    tenant_id: str,
    landed: LandedBatches,
    table_exists: bool,
) -> tuple[list[Manifest], str | None, str | None]:
    """The batches landed after the table's last merged one (every batch when there is
    no table: a first run, or a new root), and that one's (batch id, extracted_at)."""
    after, extracted = last_merged(instance, table_key, tenant_id) if table_exists else (None, None)
    return landed.new(after, extracted), after, extracted


class LandedBatchesIOManager(BlobLandingIOManager):
    """Lands like `BlobLandingIOManager`; loads a `LandedBatches` selection for a merge."""

    def load_input(self, context: dg.InputContext) -> LandedBatches:  # type: ignore[override]
        key = context.asset_key
        if len(key.path) < 2 or not context.has_asset_partitions:
            raise ValueError(
                f"{key.to_user_string()}: a table reads a tenant-partitioned landing asset "
                "keyed <source>/<endpoint>"
            )
        storage = cast(LandingStorageResource, self.storage)  # resolved at run time
        return LandedBatches(
            container=storage.container_client(),
            prefix=storage.prefix,
            source=key.path[-2],
            endpoint=key.path[-1],
            tenant_id=context.asset_partition_key,
        )

"""Table assets: each endpoint's Delta table, downstream of its landing asset, and the
child tables (line items, journal lines) that the same merge writes.

One multi-asset per endpoint, partitioned by tenant like the landing assets: its input is
the landing asset, loaded by `LandedBatchesIOManager` as the batches the table has not
merged yet; `oauth_etl.tables.merge` merges them into `xero_tables/<endpoint>` and its child
tables in one step (children first, each write one atomic Delta commit). The graph reads
`xero/invoices` -> `xero_tables/invoices` -> `xero_tables/invoice_line_items`.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from oauth_etl.defs.tables.batches import (
    LAST_BATCH,
    LAST_EXTRACTED,
    LandedBatches,
    unmerged,
)
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.defs.xero.assets import asset_key
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.tables.declared import declared_columns
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT, TableSpec, table_specs

if TYPE_CHECKING:  # deltalake and pyarrow load when a merge runs, not with the definitions
    from oauth_etl.tables.merge import MergeResult
    from oauth_etl.tables.writes import TableCounts

GROUP = "xero_tables"
KINDS = {"delta", "azure"}


def table_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, name])


def column_schema(columns: list[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns])


def table_metadata(
    store: TableStore, name: str, tenant_id: str, counts: "TableCounts"
) -> dict[str, Any]:
    """What the UI shows for one table and tenant after a merge."""
    import pyarrow as pa

    from oauth_etl.tables.show import column_types
    from oauth_etl.tables.writes import open_table

    dt = open_table(store, name)
    metadata: dict[str, Any] = {
        "table_uri": store.uri(name),
        "rows_inserted": counts.inserted,
        "rows_updated": counts.updated,
        "rows_deleted": counts.deleted,
        "delta_commits": counts.commits,
        "unparsed_values": counts.conversion.unparsed_values,
        "rows_with_unparsed": counts.conversion.rows_with_unparsed,
        "new_columns": ", ".join(sorted(counts.conversion.new_columns)),
    }
    if dt is None:  # nothing landed yet for any tenant
        return {**metadata, "dagster/row_count": 0, "delta_version": dg.MetadataValue.null()}
    dataset = dt.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)])
    return {
        **metadata,
        "dagster/row_count": dataset.count_rows(),
        "dagster/column_schema": column_schema(column_types(pa.schema(dt.schema().to_arrow()))),
        "delta_version": dt.version(),
    }


def _merge_metadata(result: "MergeResult", merged: int) -> dict[str, Any]:
    return {
        "batches_merged": merged,
        "records_read": result.records_read,
        "records_newer": result.winners,
        "records_unchanged": result.unchanged,
        "records_without_id": result.without_id,
    }


def build_table_asset(spec: TableSpec) -> dg.AssetsDefinition:
    landing = asset_key(spec.endpoint)
    parent = table_key(spec.name)
    rule = {
        "updated": "the newest `UpdatedDateUTC` wins",
        "batch": "the newest batch wins",
        "append": "append-only: the first copy stays",
    }[spec.version]
    specs = [
        dg.AssetSpec(
            parent,
            deps=[landing],  # loaded as the `landed` input below
            group_name=GROUP,
            kinds=KINDS,
            description=(
                f"Delta table of xero/{spec.name}: one row per `{spec.id_field}` per tenant "
                f"({rule}), typed from Xero's OpenAPI spec, partitioned by `tenant_id`."
            ),
            metadata={"dagster/column_schema": column_schema(declared_columns(spec.name))},
        ),
        *(
            dg.AssetSpec(
                table_key(child.name),
                deps=[parent],
                group_name=GROUP,
                kinds=KINDS,
                description=(
                    f"Delta table of the `{child.array}` of xero/{spec.name}: one row per "
                    f"element (`{child.parent_id}`, `_line`), replaced as a whole when the "
                    "parent changes."
                ),
                metadata={"dagster/column_schema": column_schema(declared_columns(child.name))},
            )
            for child in spec.children
        ),
    ]

    @dg.multi_asset(
        name=f"xero_tables__{spec.name}",
        specs=specs,
        partitions_def=TENANTS,
        ins={"landed": dg.AssetIn(landing, input_manager_key="landed_batches_io_manager")},
        can_subset=False,
    )
    def _merge(
        context: dg.AssetExecutionContext, tables: DeltaTablesResource, landed: LandedBatches
    ) -> Iterator[dg.MaterializeResult[Any]]:
        from oauth_etl.tables.merge import merge_batches
        from oauth_etl.tables.writes import open_table

        tenant_id = context.partition_key
        store = tables.store
        exists = open_table(store, spec.name) is not None
        manifests, after, extracted = unmerged(context.instance, parent, tenant_id, landed, exists)
        context.log.info(
            f"merging {len(manifests)} batch(es), {sum(m.record_count for m in manifests)} "
            f"records, into {store.uri(spec.name)} for tenant {tenant_id}"
        )
        result = merge_batches(
            store, spec, landed.container, manifests, retention_days=tables.retention_days
        )
        last = manifests[-1] if manifests else None
        cursor = {
            LAST_BATCH: last.batch_id if last else (after or ""),
            LAST_EXTRACTED: last.extracted_at if last else (extracted or ""),
        }
        yield dg.MaterializeResult(
            asset_key=parent,
            metadata={
                **table_metadata(store, spec.name, tenant_id, result.parent),
                **_merge_metadata(result, len(manifests)),
                **cursor,
            },
        )
        for child in spec.children:
            yield dg.MaterializeResult(
                asset_key=table_key(child.name),
                metadata=table_metadata(store, child.name, tenant_id, result.children[child.name]),
            )

    return _merge


# A module-level list: the defs autoloader collects lists of assets, not tuples.
TABLE_ASSETS: list[dg.AssetsDefinition] = [build_table_asset(s) for s in table_specs()]

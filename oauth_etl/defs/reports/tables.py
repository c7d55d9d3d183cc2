"""Report table assets: `xero_report_tables/<report>` (every reading, long format) and
`xero_report_tables/<report>_monthly` (the latest figures, a column per month), downstream
of the report's landing asset, partitioned by tenant. The published returns have the
long table only (a quarter's Fields, not months); their list has none
(`reports_layout.LANDED_ONLY`, `NO_MONTHLY`).

The input is the landing asset, loaded as the batches the table has not appended yet
(`LandedBatchesIOManager`, after the `last_batch_id` of the table's latest
materialization for the tenant); each batch's answers are flattened again with the facts
they were read with and appended in one commit (`oauth_etl.tables.reports`). A batch the
table already holds is skipped, so a retried step appends nothing twice.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from oauth_etl.defs.reports.organisation import GROUP as LANDING_GROUP
from oauth_etl.defs.tables.assets import column_schema
from oauth_etl.defs.tables.batches import LAST_BATCH, LAST_EXTRACTED, LandedBatches, unmerged
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.reports_layout import (
    MONTHLY_KEYS,
    MONTHLY_TAIL,
    READING_COLUMNS,
    has_monthly,
    monthly_name,
    table_name,
    tabulated,
)
from oauth_etl.xero.reports.catalog import Report

if TYPE_CHECKING:
    from oauth_etl.tables.location import TableStore

GROUP = "xero_report_tables"
# Tenants' runs write one table side by side: a month's new column in one tenant's
# monthly view is a schema change another tenant's commit may lose a race to (delta-rs
# raises). The asset is idempotent (batches in the table are skipped, the view rebuilt),
# so it is simply run again.
COMMIT_RACE_RETRY = dg.RetryPolicy(max_retries=3, delay=5, jitter=dg.Jitter.PLUS_MINUS)
KINDS = {"delta", "azure"}
TABULATED: tuple[Report, ...] = tabulated()


def landing_key(report: str) -> dg.AssetKey:
    return dg.AssetKey([LANDING_GROUP, report])


def report_table_key(report: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, report])


def monthly_key(report: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, f"{report}_monthly"])


def _table_metadata(store: "TableStore", name: str, tenant_id: str) -> dict[str, Any]:
    from oauth_etl.tables.writes import open_table

    table = open_table(store, name)
    if table is None:
        return {"table_uri": store.uri(name), "dagster/row_count": 0}
    rows = table.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)]).count_rows()
    return {
        "table_uri": store.uri(name),
        "dagster/row_count": rows,
        "delta_version": table.version(),
    }


def build_report_table(spec: Report) -> dg.AssetsDefinition:
    landing, long_key, wide_key = (
        landing_key(spec.name),
        report_table_key(spec.name),
        monthly_key(spec.name),
    )
    monthly_columns = [(k, "string") for k in MONTHLY_KEYS] + [
        ("YYYY-MM (one per month)", "decimal128(28, 10)"),
        ("row_order", "int32"),
        ("currency", "string"),
        ("as_read_at", "timestamp[us, tz=UTC]"),
    ]
    assert [c for c, _ in monthly_columns[-3:]] == list(MONTHLY_TAIL)

    long_spec = dg.AssetSpec(
        long_key,
        deps=[landing],
        group_name=GROUP,
        kinds=KINDS,
        description=(
            f"Delta table `{table_name(spec.name)}`: every reading of xero_reports/"
            f"{spec.name}, one row per value cell (section, row, column, account, "
            "tracking option, value as a decimal), kept with its `as_read_at`: the "
            "figures as of any past moment are a filter. Partitioned by `tenant_id`."
        ),
        metadata={"dagster/column_schema": column_schema(list(READING_COLUMNS))},
    )
    wide_spec = dg.AssetSpec(
        wide_key,
        deps=[long_key],
        group_name=GROUP,
        kinds=KINDS,
        description=(
            f"Delta table `{monthly_name(spec.name)}`: the latest figures of "
            f"{spec.name}, one row per report line, one decimal column per month "
            "(YYYY-MM), for BI tools; rebuilt per tenant after each append."
        ),
        metadata={"dagster/column_schema": column_schema(monthly_columns)},
    )
    wide = has_monthly(spec.name)

    @dg.multi_asset(
        name=f"xero_report_tables__{spec.name}",
        specs=[long_spec, wide_spec] if wide else [long_spec],
        partitions_def=TENANTS,
        ins={"landed": dg.AssetIn(landing, input_manager_key="landed_batches_io_manager")},
        can_subset=False,
        retry_policy=COMMIT_RACE_RETRY,
    )
    def _tabulate(
        context: dg.AssetExecutionContext, tables: DeltaTablesResource, landed: LandedBatches
    ) -> Iterator[dg.MaterializeResult[Any]]:
        from oauth_etl.tables.reports import append_readings, batches_in_table, write_monthly
        from oauth_etl.tables.reports_records import readings_of
        from oauth_etl.tables.writes import open_table

        tenant_id, store = context.partition_key, tables.store
        exists = open_table(store, table_name(spec.name)) is not None
        manifests, after, extracted = unmerged(
            context.instance, long_key, tenant_id, landed, exists
        )
        known = batches_in_table(store, spec.name, tenant_id)
        appended = skipped = rows = 0
        for manifest in manifests:
            written = append_readings(
                store,
                spec.name,
                tenant_id,
                manifest.batch_id,
                readings_of(landed.records([manifest])),
                retention_days=tables.retention_days,
                known=known,
            )
            appended += written.batches_appended
            skipped += written.batches_skipped
            rows += written.rows
        context.log.info(
            f"{spec.name} for tenant {tenant_id}: {appended} batch(es) appended ({rows} "
            f"cells), {skipped} already in the table"
        )
        last = manifests[-1] if manifests else None
        yield dg.MaterializeResult(
            asset_key=long_key,
            metadata={
                **_table_metadata(store, table_name(spec.name), tenant_id),
                "batches_appended": appended,
                "batches_already_in_table": skipped,
                "cells_appended": rows,
                LAST_BATCH: last.batch_id if last else (after or ""),
                LAST_EXTRACTED: last.extracted_at if last else (extracted or ""),
            },
        )
        if not wide:
            return
        wide_rows = write_monthly(store, spec.name, tenant_id, retention_days=tables.retention_days)
        yield dg.MaterializeResult(
            asset_key=wide_key,
            metadata={
                **_table_metadata(store, monthly_name(spec.name), tenant_id),
                "lines": wide_rows,
            },
        )

    return _tabulate


# A module-level list: the defs autoloader collects lists of assets, not tuples.
REPORT_TABLE_ASSETS: list[dg.AssetsDefinition] = [build_report_table(r) for r in TABULATED]

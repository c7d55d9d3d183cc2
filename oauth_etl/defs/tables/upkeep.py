"""The tables' jobs: merging per tenant after each extraction, and the weekly upkeep.

`xero_tables` merges the tables of the daily job's endpoints for one tenant; the sensor
`xero_tables_after_extract` launches it for the tenant of every successful `xero_extract`
run. The opt-in endpoints' tables (Journals, ExpenseClaims, Receipts) are materialized on
demand, like their landing assets.

Upkeep compacts each table's small files, vacuums files no version younger than the
retention (`OAUTH_ETL_TABLES_RETENTION_DAYS`) needs, and writes a checkpoint, so time travel
keeps working for that many days (oauth_etl.tables.upkeep).
"""

import dagster as dg

from oauth_etl.app import contract
from oauth_etl.app.contract import ScheduleSettings
from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.defs.xero.assets import DEFAULT_ASSETS
from oauth_etl.defs.xero.jobs import xero_extract_job
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.schedules import TENANT_TAG, running_schedule
from oauth_etl.tables.model import table_names
from oauth_etl.tables.reports_layout import report_table_names


@dg.op(description="Compacts, vacuums and checkpoints every Delta table.")
def upkeep_tables(context: dg.OpExecutionContext, tables: DeltaTablesResource) -> dg.Output[None]:
    from oauth_etl.tables.upkeep import upkeep  # deltalake: when the job runs
    from oauth_etl.tables.writes import open_table

    store = tables.store
    done = skipped = files_removed = vacuumed = 0
    for name in (*table_names(), *report_table_names()):
        if open_table(store, name) is None:
            skipped += 1  # never merged (e.g. an opt-in endpoint not extracted)
            continue
        result = upkeep(store, name, tables.retention_days)
        context.log.info(
            f"{name}: version {result.version}, {result.files_removed} file(s) compacted into "
            f"{result.files_added}, {result.vacuumed} vacuumed"
        )
        done += 1
        files_removed += result.files_removed
        vacuumed += result.vacuumed
    return dg.Output(
        None,
        metadata={
            "tables": done,
            "tables_missing": skipped,
            "files_compacted": files_removed,
            "files_vacuumed": vacuumed,
            "retention_days": tables.retention_days,
        },
    )


@dg.job(
    name="xero_tables_upkeep",
    description="Compacts and vacuums every Delta table (time travel kept for the retention).",
)
def xero_tables_upkeep_job() -> None:
    upkeep_tables()


_DAILY_TABLES = {table_key(asset.key.path[-1]) for asset in DEFAULT_ASSETS}
xero_tables_job = dg.define_asset_job(
    "xero_tables",
    # A table's multi-asset writes its child tables too: they are selected with it.
    selection=dg.AssetSelection.assets(*(a for a in TABLE_ASSETS if a.keys & _DAILY_TABLES)),
    partitions_def=TENANTS,
    description="Merges the newly landed batches of the daily job's endpoints into their "
    "Delta tables, for one tenant (one run per tenant partition).",
)


@dg.run_status_sensor(
    name="xero_tables_after_extract",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[xero_extract_job],
    request_job=xero_tables_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each successful xero_extract run, merges that tenant's tables.",
)
def xero_tables_after_extract(
    context: dg.RunStatusSensorContext,
) -> dg.RunRequest | dg.SkipReason:
    return same_tenant(context)


def same_tenant(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    """A run for the tenant of the run that just succeeded, keyed by that run (once)."""
    tenant_id = context.dagster_run.tags.get("dagster/partition")
    if not tenant_id:
        return dg.SkipReason(f"run {context.dagster_run.run_id} names no tenant partition")
    return dg.RunRequest(
        run_key=context.dagster_run.run_id,
        partition_key=tenant_id,
        tags={TENANT_TAG: tenant_id},
    )


@dg.definitions
def table_jobs() -> dg.Definitions:
    settings = contract.settings(ScheduleSettings)
    weekly = running_schedule(
        "xero_tables_upkeep_weekly",
        xero_tables_upkeep_job,
        settings.tables_upkeep_cron,
        settings,
        "Weekly: compacts and vacuums every Delta table.",
    )
    return dg.Definitions(
        jobs=[xero_tables_upkeep_job, xero_tables_job],
        schedules=[weekly],
        sensors=[xero_tables_after_extract],
    )

"""The tables' jobs: merging per tenant on demand, and the weekly upkeep of every table.

Upkeep compacts each table's small files, vacuums files no version younger than the
retention (`OAUTH_ETL_TABLES_RETENTION_DAYS`) needs, and writes a checkpoint, so time travel
keeps working for that many days (oauth_etl.tables.upkeep).
"""

import dagster as dg

from oauth_etl import contract
from oauth_etl.contract import ScheduleSettings
from oauth_etl.defs.tables.assets import GROUP
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.schedules import running_schedule
from oauth_etl.tables.model import table_names
from oauth_etl.tables.upkeep import upkeep
from oauth_etl.tables.writes import open_table


@dg.op(description="Compacts, vacuums and checkpoints every Delta table.")
def upkeep_tables(context: dg.OpExecutionContext, tables: DeltaTablesResource) -> dg.Output[None]:
    store = tables.store
    done = skipped = files_removed = vacuumed = 0
    for name in table_names():
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


xero_tables_job = dg.define_asset_job(
    "xero_tables",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=TENANTS,
    description="Merges the newly landed batches of every endpoint into its Delta tables, "
    "for one tenant (one run per tenant partition).",
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
    return dg.Definitions(jobs=[xero_tables_upkeep_job, xero_tables_job], schedules=[weekly])

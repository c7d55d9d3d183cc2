"""The reports job and what starts it: after each successful `xero_tables` run (itself
started by the daily extraction), the tenant's reports are read, tabulated and checked.

One run per tenant (tag `xero/tenant`, as the extraction: Xero's limits are per tenant
and the run's one client keeps them). The checks run with their tables.
"""

import dagster as dg

from oauth_etl.defs.reports.assets import REPORT_ASSETS
from oauth_etl.defs.reports.organisation import xero_report_organisation
from oauth_etl.defs.reports.tables import REPORT_TABLE_ASSETS
from oauth_etl.defs.tables.upkeep import same_tenant, xero_tables_job
from oauth_etl.defs.xero.jobs import IN_PROCESS
from oauth_etl.defs.xero.partitions import TENANTS

xero_reports_job = dg.define_asset_job(
    "xero_reports",
    selection=dg.AssetSelection.assets(
        xero_report_organisation, *REPORT_ASSETS, *REPORT_TABLE_ASSETS
    ),
    partitions_def=TENANTS,
    executor_def=dg.multi_or_in_process_executor,
    config=IN_PROCESS,
    description="Xero's reports for one tenant: the periods that can still change re-read, "
    "the final ones read once, landed raw, tabulated and checked to the cent.",
)


@dg.run_status_sensor(
    name="xero_reports_after_tables",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[xero_tables_job],
    request_job=xero_reports_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each successful xero_tables run (the daily extraction's merge), "
    "reads that tenant's reports.",
)
def xero_reports_after_tables(
    context: dg.RunStatusSensorContext,
) -> dg.RunRequest | dg.SkipReason:
    return same_tenant(context)


@dg.definitions
def report_jobs() -> dg.Definitions:
    return dg.Definitions(jobs=[xero_reports_job], sensors=[xero_reports_after_tables])

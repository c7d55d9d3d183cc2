"""Weekly maintenance of the landing container: parts of batches that never committed.

A writer killed mid-batch (pod evicted, run cancelled) leaves parts without a manifest.
No reader sees them (readers start from a manifest), but they cost storage until swept.
"""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from oauth_etl.app import contract
from oauth_etl.app.contract import ScheduleSettings
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.xero.schedules import running_schedule
from oauth_etl.storage.sweep import sweep_incomplete_batches

DAY_HOURS = 24


class SweepConfig(dg.Config):
    older_than_hours: float = Field(
        default=2 * DAY_HOURS,
        description=(
            "Delete only batches untouched this long: keep it well above the longest run "
            "(run_monitoring.max_runtime_seconds, 6 h in deploy/dagster.yaml), since a "
            "batch being written has no manifest yet either."
        ),
    )


@dg.op(description="Deletes the parts of landed batches that never got a manifest.")
def sweep_incomplete_landing_batches(
    context: dg.OpExecutionContext, config: SweepConfig, storage: LandingStorageResource
) -> dg.Output[None]:
    deleted = sweep_incomplete_batches(
        storage.container_client(),
        prefix=storage.prefix,
        older_than=timedelta(hours=config.older_than_hours),
    )
    context.log.info(f"deleted {len(deleted)} blob(s) of incomplete batches")
    return dg.Output(None, metadata={"deleted_blobs": len(deleted)})


@dg.job(
    name="landing_sweep",
    description="Deletes parts of batches that never committed (killed or failed writers).",
)
def landing_sweep_job() -> None:
    sweep_incomplete_landing_batches()


@dg.definitions
def maintenance() -> dg.Definitions:
    settings = contract.settings(ScheduleSettings)
    weekly = running_schedule(
        "landing_sweep_weekly",
        landing_sweep_job,
        settings.sweep_cron,
        settings,
        "Weekly: deletes parts of batches that never committed.",
    )
    return dg.Definitions(jobs=[landing_sweep_job], schedules=[weekly])

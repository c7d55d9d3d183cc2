"""Running unattended: the daily extraction, the weekly token keep-alive, the daily health check.

A cron is part of a schedule's definition, so the schedule settings of the contract
(`OAUTH_ETL_*_CRON`, `OAUTH_ETL_TIMEZONE`) are read when the definitions load, never at
import.
"""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from oauth_etl.app import contract
from oauth_etl.app.contract import ScheduleSettings
from oauth_etl.defs.xero.jobs import (
    xero_extract_job,
    xero_token_health_job,
    xero_token_keepalive_job,
)
from oauth_etl.defs.xero.partitions import TENANTS

# Runs of one tenant carry this tag: dagster.yaml allows one such run per tenant at once.
TENANT_TAG = "xero/tenant"


def daily_run_requests(
    context: dg.ScheduleEvaluationContext,
) -> list[dg.RunRequest] | dg.SkipReason:
    """One extraction run per registered tenant, keyed by day so a tick never runs twice."""
    tenants = context.instance.get_dynamic_partitions(TENANTS.name or "")
    if not tenants:
        return dg.SkipReason(
            "no Xero tenants registered yet: materialize xero/tenants or turn on "
            "xero_tenants_sensor (after `oauth-etl authorize`)"
        )
    day = (
        context.scheduled_execution_time.strftime("%Y-%m-%d")
        if context.scheduled_execution_time
        else time.strftime("%Y-%m-%d")
    )
    return [
        dg.RunRequest(run_key=f"{day}/{tenant}", partition_key=tenant, tags={TENANT_TAG: tenant})
        for tenant in tenants
    ]


def daily_tick(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    # A plain execution_fn may return one RunRequest or SkipReason, or yield several;
    # Dagster refuses a returned list (the daemon's tick failed on it).
    result = daily_run_requests(context)
    yield from [result] if isinstance(result, dg.SkipReason) else result


def running_schedule(
    name: str,
    job: Any,  # a @dg.job or a dg.define_asset_job (whose type Dagster does not export)
    cron: str,
    settings: ScheduleSettings,
    description: str,
    **kwargs: Any,
) -> dg.ScheduleDefinition:
    """A schedule in the settings' timezone, on from the start (unattended operation)."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
        **kwargs,
    )


def build_schedules(settings: ScheduleSettings) -> list[dg.ScheduleDefinition]:
    return [
        running_schedule(
            "xero_daily",
            xero_extract_job,
            settings.daily_cron,
            settings,
            "Daily incremental extraction (xero_extract: every endpoint but the opt-in ones), "
            "one run per tenant.",
            execution_fn=daily_tick,
        ),
        running_schedule(
            "xero_token_keepalive_weekly",
            xero_token_keepalive_job,
            settings.keepalive_cron,
            settings,
            "Weekly refresh: an unused refresh token dies after 60 days.",
        ),
        running_schedule(
            "xero_token_health_daily",
            xero_token_health_job,
            settings.health_cron,
            settings,
            "Runs the xero_token_health check daily.",
        ),
    ]


@dg.definitions
def schedules() -> dg.Definitions:
    return dg.Definitions(schedules=build_schedules(contract.settings(ScheduleSettings)))

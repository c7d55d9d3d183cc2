"""Running unattended: the daily extraction, the weekly token keep-alive, the daily health check."""

import time

import dagster as dg

from oauth_etl import settings as env
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.jobs import (
    xero_extract_job,
    xero_token_health_job,
    xero_token_keepalive_job,
)
from oauth_etl.defs.xero.partitions import TENANTS

TIMEZONE = env.schedule(env.TIMEZONE, env.DEFAULT_TIMEZONE)


@dg.schedule(
    name="xero_daily",
    job=xero_extract_job,
    cron_schedule=env.schedule(env.DAILY_CRON, env.DEFAULT_DAILY_CRON),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily incremental extraction of the whole catalog, one run per tenant.",
)
def xero_daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
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
    endpoints = ",".join(a.key.path[-1] for a in ENDPOINT_ASSETS)
    return [
        dg.RunRequest(
            run_key=f"{day}/{tenant}",
            partition_key=tenant,
            tags={"xero/tenant": tenant, "xero/endpoints": endpoints},
        )
        for tenant in tenants
    ]


xero_token_keepalive_schedule = dg.ScheduleDefinition(
    name="xero_token_keepalive_weekly",
    job=xero_token_keepalive_job,
    cron_schedule=env.schedule(env.KEEPALIVE_CRON, env.DEFAULT_KEEPALIVE_CRON),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly refresh so the 60-day death of an unused refresh token never comes.",
)


xero_token_health_schedule = dg.ScheduleDefinition(
    name="xero_token_health_daily",
    job=xero_token_health_job,
    cron_schedule=env.schedule(env.HEALTH_CRON, env.DEFAULT_HEALTH_CRON),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

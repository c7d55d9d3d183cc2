"""Running unattended: the daily extraction, the token keep-alive and the token health check.

Xero kills a refresh token that goes unused for 60 days. The keep-alive schedule
rotates it weekly even when extraction is paused, and the health check warns two
weeks before the end and fails, naming the command to run, once a person is needed.
"""

import time
from typing import Any

import dagster as dg
from pydantic import Field

from oauth_etl import settings as env
from oauth_etl.assets import ENDPOINT_ASSETS, TENANTS
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.resources import XeroOAuthResource
from oauth_etl.tenants import xero_tenants

TIMEZONE = env.schedule(env.TIMEZONE, env.DEFAULT_TIMEZONE)
REFRESH_TOKEN_LIFETIME_DAYS = 60
WARN_DAYS_LEFT = 14
DAY = 86_400.0

# Xero steps wait on the network and the `xero_api` pool runs them one at a time, so a
# process per step only adds seconds of imports each. In process by default; pick
# `multiprocess` in the launchpad when the pool limit is raised.
IN_PROCESS: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}

xero_extract_job = dg.define_asset_job(
    "xero_extract",
    selection=dg.AssetSelection.assets(*ENDPOINT_ASSETS),
    partitions_def=TENANTS,
    executor_def=dg.multi_or_in_process_executor,
    config=IN_PROCESS,
    description="Every Xero endpoint for one tenant (one run per tenant partition).",
)


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


class KeepAliveConfig(dg.Config):
    min_age_days: float = Field(
        default=6.0,
        description="Rotate only when the refresh token is at least this old.",
    )


@dg.op(description="Rotates the Xero refresh token when it has not been used recently.")
def keep_xero_token_alive(
    context: dg.OpExecutionContext, config: KeepAliveConfig, oauth: XeroOAuthResource
) -> dg.Output[None]:
    manager = oauth.token_manager()
    rotated = manager.keep_alive(min_age_seconds=config.min_age_days * DAY)
    status = manager.status()
    context.log.info(
        "refresh token rotated" if rotated else "refresh token recent enough: nothing to do"
    )
    return dg.Output(
        None,
        metadata={
            "rotated": rotated,
            "refresh_token_age_days": round(status.refresh_token_age_seconds / DAY, 2)
            if status.refresh_token_age_seconds is not None
            else -1.0,
        },
    )


@dg.job(
    name="xero_token_keepalive",
    description="Keeps the Xero refresh token alive while extraction is paused.",
)
def xero_token_keepalive_job() -> None:
    keep_xero_token_alive()


xero_token_keepalive_schedule = dg.ScheduleDefinition(
    name="xero_token_keepalive_weekly",
    job=xero_token_keepalive_job,
    cron_schedule=env.schedule(env.KEEPALIVE_CRON, env.DEFAULT_KEEPALIVE_CRON),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly refresh so the 60-day death of an unused refresh token never comes.",
)


@dg.asset_check(
    asset=xero_tenants,
    name="xero_token_health",
    description=(
        "Age of the refresh token and days left before Xero's 60-day expiry; warns at "
        f"{WARN_DAYS_LEFT} days, fails when a person must authorize again. Read-only."
    ),
)
def xero_token_health(oauth: XeroOAuthResource) -> dg.AssetCheckResult:
    # Read-only: a health check that refreshed would hide the ageing it reports on.
    try:
        status = oauth.token_manager().status()
    except OAuthError as exc:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=str(exc),
            metadata={"remedy": "oauth-etl authorize"},
        )
    if not status.present or not status.has_refresh_token:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"no refresh token in {status.store}: run `oauth-etl authorize`",
            metadata={"store": status.store, "remedy": "oauth-etl authorize"},
        )
    age_days = (status.refresh_token_age_seconds or 0.0) / DAY
    days_left = (
        status.refresh_days_left
        if status.refresh_days_left is not None
        else REFRESH_TOKEN_LIFETIME_DAYS - age_days
    )
    metadata: dict[str, float | str] = {
        "refresh_token_age_days": round(age_days, 2),
        "days_left": round(days_left, 2),
        "store": status.store,
    }
    if days_left <= 0:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"The Xero refresh token went unused for {age_days:.0f} days and has expired: "
                "run `oauth-etl authorize`."
            ),
            metadata={**metadata, "remedy": "oauth-etl authorize"},
        )
    if days_left <= WARN_DAYS_LEFT:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"The Xero refresh token dies in {days_left:.1f} days: run "
                "`oauth-etl token refresh` (or turn on xero_token_keepalive_weekly)."
            ),
            metadata=metadata,
        )
    return dg.AssetCheckResult(passed=True, metadata=metadata)


xero_token_health_job = dg.define_asset_job(
    "xero_token_health",
    selection=dg.AssetSelection.checks(xero_token_health),
    description="Runs the token health check alone.",
)

xero_token_health_schedule = dg.ScheduleDefinition(
    name="xero_token_health_daily",
    job=xero_token_health_job,
    cron_schedule=env.schedule(env.HEALTH_CRON, env.DEFAULT_HEALTH_CRON),
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

"""The jobs: a tenant's extraction, the token keep-alive and the token health check.

Xero kills a refresh token that goes unused for 60 days: the keep-alive job rotates it
even when extraction is paused (schedules.py runs it weekly).
"""

from typing import Any

import dagster as dg
from pydantic import Field

from oauth_etl.defs.resources import XeroOAuthResource
from oauth_etl.defs.xero.assets import DEFAULT_ASSETS
from oauth_etl.defs.xero.checks import xero_token_health
from oauth_etl.defs.xero.partitions import TENANTS

DAY = 86_400.0

# Xero steps wait on the network, and a tenant's calls share one rate budget that only
# one process can keep: a process per step would add seconds of imports each and split
# the budget. In process by default (`multiprocess` stays available in the launchpad).
IN_PROCESS: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}

xero_extract_job = dg.define_asset_job(
    "xero_extract",
    # The opt-in endpoints (Journals, ExpenseClaims, Receipts) are not in it: a scope
    # the app lacks would fail every run. Materialize them on demand once authorized
    # with `oauth-etl authorize --with-journals` / `--with-classic-expenses`.
    selection=dg.AssetSelection.assets(*DEFAULT_ASSETS),
    partitions_def=TENANTS,
    executor_def=dg.multi_or_in_process_executor,
    config=IN_PROCESS,
    description="Every Xero endpoint a new app may read, for one tenant (one run per "
    "tenant partition); Journals, ExpenseClaims and Receipts are opt-in, on demand.",
)


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


xero_token_health_job = dg.define_asset_job(
    "xero_token_health",
    selection=dg.AssetSelection.checks(xero_token_health),
    description="Runs the token health check alone.",
)

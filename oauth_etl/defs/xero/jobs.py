"""The jobs: a tenant's extraction, the token keep-alive and the token health check.

Xero kills a refresh token that goes unused for 60 days: the keep-alive job rotates it
even when extraction is paused (schedules.py runs it weekly), every token set of the
deployment in turn (OAUTH_ETL_CONNECTIONS): one that fails does not stop the others,
and the run then fails naming it.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from oauth_etl.app.sets import DEFAULT
from oauth_etl.app.token_sets import set_error
from oauth_etl.defs.resources import XeroOAuthResource
from oauth_etl.defs.xero.assets import DEFAULT_ASSETS
from oauth_etl.defs.xero.checks import xero_token_health
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.oauth.errors import OAuthError

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


@dg.op(description="Rotates each Xero refresh token that has not been used recently.")
def keep_xero_token_alive(
    context: dg.OpExecutionContext, config: KeepAliveConfig, oauth: XeroOAuthResource
) -> dg.Output[None]:
    names = oauth.set_names()
    metadata: dict[str, bool | float | str] = {}
    failures: list[str] = []
    for name in names:
        # The default set's keys are unprefixed, as they were before there were several.
        key = "" if name == DEFAULT else f"{name}/"
        which = "" if name == DEFAULT else f"token set {name!r}: "
        try:
            manager = oauth.token_manager(name)
            rotated = manager.keep_alive(min_age_seconds=config.min_age_days * DAY)
            status = manager.status()
        except OAuthError as exc:
            if len(names) == 1:
                raise
            failures.append(set_error(name, exc))
            context.log.error(failures[-1])
            metadata[f"{key}failed"] = True
            continue
        context.log.info(
            which
            + ("refresh token rotated" if rotated else "refresh token recent enough: nothing to do")
        )
        metadata[f"{key}rotated"] = rotated
        metadata[f"{key}refresh_token_age_days"] = (
            round(status.refresh_token_age_seconds / DAY, 2)
            if status.refresh_token_age_seconds is not None
            else -1.0
        )
    if failures:
        # After every other set was kept alive: the run fails, naming the sets that were not.
        raise dg.Failure(description="; ".join(failures), metadata=metadata)
    return dg.Output(None, metadata=metadata)


@dg.job(
    name="xero_token_keepalive",
    description="Keeps every Xero refresh token alive while extraction is paused.",
)
def xero_token_keepalive_job() -> None:
    keep_xero_token_alive()


xero_token_health_job = dg.define_asset_job(
    "xero_token_health",
    selection=dg.AssetSelection.checks(xero_token_health),
    description="Runs the token health check alone.",
)

"""The one Dagster `Definitions` of the oauth_etl code location.

Configuration comes from the environment contract of DESIGN.md (see
`oauth_etl.settings`). Secrets are passed as `dg.EnvVar` so that the Dagster UI
shows the variable's name, never its value.
"""

from __future__ import annotations

import dagster as dg

from oauth_etl.assets import ENDPOINT_ASSETS
from oauth_etl.automation import (
    xero_daily,
    xero_extract_job,
    xero_token_health,
    xero_token_health_job,
    xero_token_health_schedule,
    xero_token_keepalive_job,
    xero_token_keepalive_schedule,
)
from oauth_etl.checks import BATCH_CHECKS
from oauth_etl.resources import build_resources
from oauth_etl.settings import Settings
from oauth_etl.tenants import xero_tenants, xero_tenants_sensor


def _env_var_secret(name: str, value: str | None) -> str | None:
    """An `EnvVar` when the variable is set: resolved at run time, shown by name only."""
    return dg.EnvVar(name) if value else None


defs = dg.Definitions(
    assets=[xero_tenants, *ENDPOINT_ASSETS],
    asset_checks=[xero_token_health, *BATCH_CHECKS],
    jobs=[xero_extract_job, xero_token_keepalive_job, xero_token_health_job],
    schedules=[xero_daily, xero_token_keepalive_schedule, xero_token_health_schedule],
    sensors=[xero_tenants_sensor],
    resources=build_resources(Settings.from_env(), secret=_env_var_secret),
    # "Materialize all" in the UI: see IN_PROCESS in automation.py for why.
    executor=dg.in_process_executor,
)

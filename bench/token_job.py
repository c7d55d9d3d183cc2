"""A Dagster job of 8 independent steps that each need an access token.

Loaded by reference (`dg.reconstructable`) in every step process of the multiprocess
executor, so its resources are configured from the environment the benchmark sets
(`dg.EnvVar`: no secret in run config or on a command line).
"""

from __future__ import annotations

import dagster as dg

from oauth_etl.defs.resources import XeroOAuthResource
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource
from oauth_etl.oauth.tokens import fingerprint_of

STEPS = 8


def _step(index: int) -> dg.OpDefinition:
    @dg.op(name=f"needs_token_{index}")
    def needs_token(oauth: XeroOAuthResource) -> str:
        return fingerprint_of(oauth.token_manager().access_token())

    return needs_token


@dg.job(
    # forkserver with this module preloaded: step processes fork from a warm server
    # instead of each importing Dagster from scratch (minutes on 2 busy cores).
    executor_def=dg.multiprocess_executor.configured(
        {
            "max_concurrent": STEPS,
            "start_method": {"forkserver": {"preload_modules": [__name__]}},
        }
    ),
    resource_defs={
        "oauth": XeroOAuthResource(
            client_id=dg.EnvVar("XERO_CLIENT_ID"),
            client_secret=dg.EnvVar("XERO_CLIENT_SECRET"),
            login_url=dg.EnvVar("XERO_LOGIN_URL"),
            identity_url=dg.EnvVar("XERO_IDENTITY_URL"),
            api_url=dg.EnvVar("XERO_API_URL"),
            token_store=dg.EnvVar("OAUTH_ETL_TOKEN_STORE"),
            storage=LandingStorageResource(
                credential=ConnectionString(
                    connection_string=dg.EnvVar("AZURE_STORAGE_CONNECTION_STRING")
                )
            ),
        )
    },
)
def token_job() -> None:
    for index in range(STEPS):
        _step(index)()


def define_token_job() -> dg.JobDefinition:
    """For `dg.reconstructable`: each step process imports this module and calls it."""
    return token_job

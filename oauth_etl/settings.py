"""The environment contract of DESIGN.md: variable names and their defaults, in one place.

Dagster definitions and the command line both read configuration through here, so a
default can never differ between `dagster dev` and `oauth-etl token ensure`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

XERO_CLIENT_ID = "XERO_CLIENT_ID"
XERO_CLIENT_SECRET = "XERO_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret
XERO_LOGIN_URL = "XERO_LOGIN_URL"
XERO_IDENTITY_URL = "XERO_IDENTITY_URL"
XERO_API_URL = "XERO_API_URL"
TOKEN_STORE = "OAUTH_ETL_TOKEN_STORE"  # noqa: S105 - the name
STORAGE_CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
STORAGE_ACCOUNT_URL = "AZURE_STORAGE_ACCOUNT_URL"
STORAGE_SAS_TOKEN = "AZURE_STORAGE_SAS_TOKEN"  # noqa: S105 - the variable's name
CONTAINER = "OAUTH_ETL_CONTAINER"
PREFIX = "OAUTH_ETL_PREFIX"

DAILY_CRON = "OAUTH_ETL_DAILY_CRON"
KEEPALIVE_CRON = "OAUTH_ETL_KEEPALIVE_CRON"
HEALTH_CRON = "OAUTH_ETL_HEALTH_CRON"
TIMEZONE = "OAUTH_ETL_TIMEZONE"

DEFAULT_LOGIN_URL = "https://login.xero.com"
DEFAULT_IDENTITY_URL = "https://identity.xero.com"
DEFAULT_API_URL = "https://api.xero.com"
DEFAULT_TOKEN_STORE = "file:.oauth_etl/xero-token.json"  # noqa: S105 - a path
DEFAULT_CONTAINER = "xero-raw"
DEFAULT_DAILY_CRON = "30 2 * * *"  # off-peak
DEFAULT_KEEPALIVE_CRON = "15 4 * * 0"  # weekly: far inside Xero's 60 days
DEFAULT_HEALTH_CRON = "0 6 * * *"
DEFAULT_TIMEZONE = "UTC"


def schedule(variable: str, default: str) -> str:
    """A schedule setting (cron or timezone): read when the definitions load."""
    return os.getenv(variable, "").strip() or default


@dataclass(frozen=True)
class Settings:
    """Configuration read from the environment. `repr` never shows a secret."""

    client_id: str | None
    client_secret: str | None = field(repr=False)
    login_url: str
    identity_url: str
    api_url: str
    token_store: str
    storage_connection_string: str | None = field(repr=False)
    storage_account_url: str | None
    storage_sas_token: str | None = field(repr=False)
    container: str
    prefix: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            client_id=get(XERO_CLIENT_ID),
            client_secret=get(XERO_CLIENT_SECRET),
            login_url=get(XERO_LOGIN_URL) or DEFAULT_LOGIN_URL,
            identity_url=get(XERO_IDENTITY_URL) or DEFAULT_IDENTITY_URL,
            api_url=get(XERO_API_URL) or DEFAULT_API_URL,
            token_store=get(TOKEN_STORE) or DEFAULT_TOKEN_STORE,
            storage_connection_string=get(STORAGE_CONNECTION_STRING),
            storage_account_url=get(STORAGE_ACCOUNT_URL),
            storage_sas_token=get(STORAGE_SAS_TOKEN),
            container=get(CONTAINER) or DEFAULT_CONTAINER,
            prefix=get(PREFIX) or "",
        )

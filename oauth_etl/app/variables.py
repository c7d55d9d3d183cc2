"""The environment contract's table: every variable oauth_etl reads, the settings field it
sets and what it means, and `ConfigError`, how a setting is refused.

Its own module so that the settings classes (`oauth_etl.app.settings`) can name the
variable of a field they refuse; `oauth_etl.app.contract` re-exports all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class ConfigError(ValueError):
    """The environment does not satisfy the contract; the message names the variable."""


@dataclass(frozen=True)
class Problem:
    """One refused setting: the variable, what is wrong (never a secret's value), the fix."""

    variable: str
    detail: str
    fix: str


class SettingsError(ConfigError):
    """Settings refused, every problem at once (each names its variable)."""

    def __init__(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.detail} — {p.fix}" for p in self.problems))


Section = Literal["oauth", "xero", "storage", "tables", "webhooks", "schedules"]
Kind = Literal["str", "int"]


@dataclass(frozen=True)
class Variable:
    """One environment variable: the settings field it sets and what it means."""

    name: str
    section: Section
    field: str
    meaning: str
    kind: Kind = "str"
    secret: bool = False


CONTRACT: tuple[Variable, ...] = (
    # -- the Xero app and its OAuth connection (XeroOAuthResource) -----------------------
    Variable("XERO_CLIENT_ID", "oauth", "client_id", "Xero app client id"),
    Variable(
        "XERO_CLIENT_SECRET",
        "oauth",
        "client_secret",
        "Xero app client secret; unset for a PKCE public client",
        secret=True,
    ),
    Variable(
        "XERO_CREDENTIALS_VAULT_URL",
        "oauth",
        "credentials_vault_url",
        "Key Vault holding the client id/secret (https://NAME.vault.azure.net)",
    ),
    Variable(
        "XERO_CLIENT_ID_SECRET_NAME",
        "oauth",
        "client_id_secret_name",
        "Key Vault secret holding the client id (with XERO_CREDENTIALS_VAULT_URL)",
    ),
    Variable(
        "XERO_CLIENT_SECRET_SECRET_NAME",
        "oauth",
        "client_secret_secret_name",
        "Key Vault secret holding the client secret (with XERO_CREDENTIALS_VAULT_URL)",
    ),
    Variable("XERO_LOGIN_URL", "oauth", "login_url", "authorize host"),
    Variable("XERO_IDENTITY_URL", "oauth", "identity_url", "token/revocation host"),
    Variable("XERO_API_URL", "oauth", "api_url", "API host: /Connections, /api.xro/2.0/..."),
    Variable(
        "XERO_REDIRECT_URI",
        "oauth",
        "redirect_uri",
        "redirect URI registered with the app (`oauth-etl authorize` listens on it)",
    ),
    Variable(
        "XERO_GRANT_TYPE",
        "oauth",
        "grant_type",
        "`authorization_code`, or `client_credentials` for a Xero custom connection",
    ),
    Variable("XERO_SCOPES", "oauth", "scopes", "scopes requested with client credentials (spaces)"),
    Variable(
        "OAUTH_ETL_TOKEN_STORE",
        "oauth",
        "token_store",
        "`file:PATH` or `keyvault:https://NAME.vault.azure.net/SECRET`",
    ),
    Variable(
        "OAUTH_ETL_REFRESH_SKEW_SECONDS",
        "oauth",
        "refresh_skew_seconds",
        "refresh an access token this long before it expires",
        kind="int",
    ),
    Variable(
        "OAUTH_ETL_LOCK_WAIT_SECONDS",
        "oauth",
        "lock_wait_seconds",
        "longest wait for the cross-process refresh lock",
        kind="int",
    ),
    Variable(
        "OAUTH_ETL_LEASE_SECONDS",
        "oauth",
        "lease_seconds",
        "blob lease length of the Key Vault store's lock (15-60)",
        kind="int",
    ),
    Variable(
        "OAUTH_ETL_TOKEN_TIMEOUT_SECONDS",
        "oauth",
        "timeout_seconds",
        "token endpoint timeout",
        kind="int",
    ),
    Variable(
        "OAUTH_ETL_RESCUE_LOCATION",
        "oauth",
        "rescue_location",
        "where a token set that cannot be saved is kept: `file:DIR` or "
        "`blob:CONTAINER[/PREFIX]` in the landing account",
    ),
    Variable(
        "OAUTH_ETL_TOKEN_LOCK",
        "oauth",
        "token_lock",
        "the Key Vault store's lease blob, `CONTAINER/BLOB` in the landing account "
        "(default: derived from the secret)",
    ),
    Variable(
        "OAUTH_ETL_CONNECTIONS",
        "oauth",
        "connections",
        "names of further token sets (`a,b`: one per Xero user who connected "
        "organisations), each stored beside OAUTH_ETL_TOKEN_STORE (unset: one set)",
    ),
    # -- the Accounting API (XeroApiResource) -------------------------------------------
    Variable("XERO_TIMEOUT_SECONDS", "xero", "timeout_seconds", "API read timeout", kind="int"),
    Variable(
        "XERO_MAX_ATTEMPTS",
        "xero",
        "max_attempts",
        "attempts per API request on 5xx and transport errors",
        kind="int",
    ),
    Variable(
        "XERO_PAGE_SIZE", "xero", "page_size", "pageSize for endpoints that take it", kind="int"
    ),
    # -- the landing account (LandingStorageResource) ------------------------------------
    Variable(
        "AZURE_STORAGE_CONNECTION_STRING",
        "storage",
        "connection_string",
        "landing account by connection string",
        secret=True,
    ),
    Variable(
        "AZURE_STORAGE_ACCOUNT_URL",
        "storage",
        "account_url",
        "landing account by URL (https://ACCOUNT.blob.core.windows.net), with "
        "DefaultAzureCredential unless a SAS is set",
    ),
    Variable(
        "AZURE_STORAGE_SAS_TOKEN",
        "storage",
        "sas_token",
        "with the account URL: a SAS instead of Azure AD",
        secret=True,
    ),
    Variable("OAUTH_ETL_CONTAINER", "storage", "container", "landing container"),
    Variable("OAUTH_ETL_PREFIX", "storage", "prefix", "path prefix inside the container"),
    # -- the Delta tables (DeltaTablesResource) ----------------------------------------
    Variable(
        "OAUTH_ETL_TABLES_ROOT",
        "tables",
        "root",
        "where the Delta tables live (default `az://<container>/<prefix>tables/xero`)",
    ),
    Variable(
        "OAUTH_ETL_TABLES_RETENTION_DAYS",
        "tables",
        "retention_days",
        "days of time travel the weekly upkeep keeps (vacuum retention)",
        kind="int",
    ),
    Variable(
        "OAUTH_ETL_TABLES_ENDPOINT_URL",
        "tables",
        "endpoint_url",
        "blob endpoint delta-rs uses, when not the landing account's (the local Azurite relay)",
    ),
    # -- Xero's webhooks (oauth_etl.webhooks; WebhookQueueResource) ----------------------
    Variable(
        "XERO_WEBHOOK_KEY",
        "webhooks",
        "key",
        "the app's webhook signing key (developer portal, Webhooks tab)",
        secret=True,
    ),
    Variable(
        "XERO_WEBHOOK_KEY_SECRET_NAME",
        "webhooks",
        "key_secret_name",
        "Key Vault secret holding the webhook key (with XERO_CREDENTIALS_VAULT_URL)",
    ),
    Variable(
        "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING",
        "webhooks",
        "queue_connection_string",
        "storage account of the webhook queue, by connection string",
        secret=True,
    ),
    Variable(
        "OAUTH_ETL_WEBHOOK_QUEUE_ACCOUNT_URL",
        "webhooks",
        "queue_account_url",
        "storage account of the webhook queue by URL (https://ACCOUNT.queue.core.windows.net), "
        "with DefaultAzureCredential",
    ),
    Variable("OAUTH_ETL_WEBHOOK_QUEUE", "webhooks", "queue", "queue the deliveries wait in"),
    Variable(
        "OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES",
        "webhooks",
        "max_body_bytes",
        "largest delivery the receiver reads (413 beyond)",
        kind="int",
    ),
    # -- schedules (read when the definitions load: a cron is part of a definition) -------
    Variable("OAUTH_ETL_DAILY_CRON", "schedules", "daily_cron", "xero_daily"),
    Variable(
        "OAUTH_ETL_KEEPALIVE_CRON", "schedules", "keepalive_cron", "xero_token_keepalive_weekly"
    ),
    Variable("OAUTH_ETL_HEALTH_CRON", "schedules", "health_cron", "xero_token_health_daily"),
    Variable("OAUTH_ETL_SWEEP_CRON", "schedules", "sweep_cron", "landing_sweep_weekly"),
    Variable(
        "OAUTH_ETL_TABLES_UPKEEP_CRON",
        "schedules",
        "tables_upkeep_cron",
        "xero_tables_upkeep_weekly",
    ),
    Variable("OAUTH_ETL_TIMEZONE", "schedules", "timezone", "timezone of every schedule"),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in CONTRACT}


def variables(section: Section) -> tuple[Variable, ...]:
    return tuple(v for v in CONTRACT if v.section == section)


def variable_for(section: Section, field: str) -> Variable:
    for v in CONTRACT:
        if v.section == section and v.field == field:
            return v
    raise KeyError(f"no variable sets {section}.{field}")

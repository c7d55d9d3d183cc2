"""The environment contract: every variable oauth_etl reads, what it sets and what it means.

The one configuration path. The Dagster code location binds each variable that is set to
its resource field as a `dg.EnvVar` (resolved when a run launches; the UI shows the name,
never the value), and the command line resolves the same table into the same settings
objects with `settings(...)`. Nothing here reads the environment at import time, and
nothing imports Dagster or an Azure SDK: `oauth-etl --help` stays fast.

The settings classes below hold every default, once: the Dagster resources take their
field defaults from them, and the README's table is checked against them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, TypeVar


class ConfigError(ValueError):
    """The environment does not satisfy the contract; the message names the variable."""


StorageCredential = Literal["connection_string", "sas", "default_azure_credential"]


# -- the settings the variables fill, with their defaults ------------------------------
@dataclass(frozen=True)
class OAuthSettings:
    """The Xero app and the token set's home. `repr` never shows a secret."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    credentials_vault_url: str | None = None
    client_id_secret_name: str | None = None
    client_secret_secret_name: str | None = None
    login_url: str = "https://login.xero.com"
    identity_url: str = "https://identity.xero.com"
    api_url: str = "https://api.xero.com"
    redirect_uri: str | None = None
    grant_type: str = "authorization_code"
    scopes: str = ""
    token_store: str = "file:.oauth_etl/xero-token.json"  # noqa: S105 - a path
    refresh_skew_seconds: int = 300
    lock_wait_seconds: int = 120
    lease_seconds: int = 30
    timeout_seconds: int = 30
    # Unset: beside a file store, else ~/.oauth_etl/rescue (oauth_etl.oauth.rescue).
    rescue_location: str | None = None
    # Unset: derived from the Key Vault secret's identity (oauth_etl.oauth.locks).
    token_lock: str | None = None
    # Names of further token sets beside the default one (oauth_etl.app.sets).
    connections: str | None = None


@dataclass(frozen=True)
class XeroApiSettings:
    # 1,000 invoices with line items can take Xero longer than 30 s to answer.
    timeout_seconds: int = 120
    max_attempts: int = 5
    page_size: int = 1000


@dataclass(frozen=True)
class StorageSettings:
    """The landing account, container and prefix. No default account: see storage_credential."""

    connection_string: str | None = field(default=None, repr=False)
    account_url: str | None = None
    sas_token: str | None = field(default=None, repr=False)
    container: str = "xero-raw"
    prefix: str = ""
    create_container: bool = True

    def credential(self) -> StorageCredential:
        """The first that is set wins: connection string; account URL + SAS; account URL
        alone (DefaultAzureCredential: managed identity, workload identity, `az login`)."""
        if self.connection_string:
            return "connection_string"
        if self.account_url:
            return "sas" if self.sas_token else "default_azure_credential"
        raise ConfigError(
            "no landing account: set AZURE_STORAGE_CONNECTION_STRING, or "
            "AZURE_STORAGE_ACCOUNT_URL (with AZURE_STORAGE_SAS_TOKEN, or an Azure identity)"
        )


@dataclass(frozen=True)
class ScheduleSettings:
    daily_cron: str = "30 2 * * *"  # off-peak
    keepalive_cron: str = "15 4 * * 0"  # weekly: far inside Xero's 60 days
    health_cron: str = "0 6 * * *"
    sweep_cron: str = "45 3 * * 6"  # Saturday, between two daily runs
    tables_upkeep_cron: str = "30 5 * * 0"  # Sunday, after the keep-alive
    timezone: str = "UTC"


@dataclass(frozen=True)
class TablesSettings:
    """The Delta tables merged from the landed batches (oauth_etl.tables)."""

    root: str | None = None  # unset: az://<container>/<prefix>tables/xero
    retention_days: int = 7  # time travel kept by vacuum (Delta's own default)
    endpoint_url: str | None = None  # unset: the landing account's blob endpoint


@dataclass(frozen=True)
class WebhookSettings:
    """Xero's webhooks (oauth_etl.webhooks): the signing key and the queue deliveries wait
    in. No default queue account: the receiver and the sensor need one named."""

    key: str | None = field(default=None, repr=False)
    key_secret_name: str | None = None  # in XERO_CREDENTIALS_VAULT_URL
    queue_connection_string: str | None = field(default=None, repr=False)
    queue_account_url: str | None = None
    queue: str = "xero-webhooks"
    # Xero's deliveries are small batches; anything this large is not one of them.
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        # An intent-to-receive probe is ~100 bytes: a smaller limit would answer it 413.
        if self.max_body_bytes < 1024:
            raise ConfigError(
                f"OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES is {self.max_body_bytes}: set at least 1024 "
                "(bytes), or unset it for the default 1048576 (1 MiB)"
            )

    def configured(self) -> bool:
        """A queue is named: the receiver can run and the sensor drains it."""
        return bool(self.queue_connection_string or self.queue_account_url)


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


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Set and not blank: an empty variable means "not set" (as Kubernetes often leaves it)."""
    env = os.environ if environ is None else environ
    return bool(env.get(name, "").strip())


def values(section: Section, environ: Mapping[str, str] | None = None) -> dict[str, str | int]:
    """The fields of `section` that the environment sets, converted to their kind."""
    env = os.environ if environ is None else environ
    found: dict[str, str | int] = {}
    for v in variables(section):
        if not is_set(v.name, env):
            continue
        text = env[v.name].strip()
        if v.kind == "int":
            try:
                found[v.field] = int(text)
            except ValueError:
                raise ConfigError(f"{v.name} must be a whole number, got {text!r}") from None
        else:
            found[v.field] = text
    return found


SECTIONS: dict[Section, type[Any]] = {
    "oauth": OAuthSettings,
    "xero": XeroApiSettings,
    "storage": StorageSettings,
    "tables": TablesSettings,
    "webhooks": WebhookSettings,
    "schedules": ScheduleSettings,
}
T = TypeVar("T")


def settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """`cls` (one of SECTIONS) filled from the environment; unset fields keep defaults."""
    section = next(name for name, found in SECTIONS.items() if found is cls)
    return cls(**values(section, environ))


def default_of(section: Section, name: str) -> Any:
    """The default of a settings field (for the resources' field defaults and the docs)."""
    for f in fields(SECTIONS[section]):
        if f.name == name:
            return None if f.default is MISSING else f.default
    raise KeyError(f"{section} has no field {name!r}")


def storage_credential(environ: Mapping[str, str] | None = None) -> StorageCredential:
    """Which landing credential the environment selects (see StorageSettings.credential).

    With none set this is `connection_string`, so that a launch fails naming
    AZURE_STORAGE_CONNECTION_STRING: there is no default account (the demo and the
    tests point at Azurite explicitly).
    """
    try:
        return settings(StorageSettings, environ).credential()
    except ConfigError:
        return "connection_string"


# Variables that must be set unless one of the alternatives is: bound as `dg.EnvVar`
# even when unset, so that a launch without them fails naming them.
REQUIRED_UNLESS: dict[str, tuple[str, ...]] = {
    "XERO_CLIENT_ID": ("XERO_CLIENT_ID_SECRET_NAME",),
}


def missing(environ: Mapping[str, str] | None = None) -> list[str]:
    """Required variables that are not set (and have no alternative set)."""
    return [
        name
        for name, alternatives in REQUIRED_UNLESS.items()
        if not is_set(name, environ) and not any(is_set(a, environ) for a in alternatives)
    ]

"""The settings the environment contract fills: every default, once, and every rule.

Each class checks its values when it is built (`__post_init__`), so the Dagster resources
(`defs/fields.settings_of`), the command line and doctor (`contract.settings`) refuse a
bad setting the same way and before any network call: a `SettingsError` with one
`Problem` per variable, naming it and what it takes, never a secret's value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from oauth_etl.app.syntax import connection_string_problem, table_root_problem, url_shape
from oauth_etl.app.variables import ConfigError, Problem, Section, SettingsError, variable_for
from oauth_etl.oauth.errors import clip
from oauth_etl.oauth.locks import keyvault_lock_location
from oauth_etl.oauth.rescue import parse_rescue_location
from oauth_etl.oauth.stores import parse_store_uri

StorageCredential = Literal["connection_string", "sas", "default_azure_credential"]

# Xero's largest page: the vendored spec (xero_accounting.yaml, components.parameters.
# pageSize) states no maximum; 1000 is the one XeroClient enforces (oauth_etl.xero.client)
# and no developer.xero.com page we could read states it.
MAX_PAGE_SIZE = 1000
# An Azure blob lease lasts 15 to 60 seconds (learn.microsoft.com/rest/api/storageservices/
# lease-blob: "x-ms-lease-duration: -1 | n", n between 15 and 60).
LEASE_SECONDS = (15, 60)
GRANT_TYPES = ("authorization_code", "client_credentials")
# The webhook queue's twin, where deliveries that cannot be acted on are set aside.
UNACTIONABLE_SUFFIX = "-unactionable"
# 3-63 lowercase letters, digits and single hyphens, a letter or digit at both ends
# (learn.microsoft.com/rest/api/storageservices/naming-queues-and-metadata); the twin's
# suffix must fit too.
_QUEUE_NAME = re.compile(r"[a-z0-9](?:-?[a-z0-9])+")
_LONGEST_QUEUE = 63 - len(UNACTIONABLE_SUFFIX)


class _Rules:
    """The problems of one settings object, raised together."""

    def __init__(self, section: Section, settings: object) -> None:
        self.section = section
        self.settings = settings
        self.problems: list[Problem] = []

    def name(self, field_name: str) -> str:
        return variable_for(self.section, field_name).name

    def add(self, field_name: str, detail: str, fix: str) -> None:
        self.problems.append(Problem(self.name(field_name), detail, fix))

    def number(self, field_name: str, low: int, high: int | None = None, unit: str = "") -> None:
        """A whole number from `low` (to `high`); ints are never secret, so it is quoted."""
        value = getattr(self.settings, field_name)
        if low <= value and (high is None or value <= high):
            return
        name = self.name(field_name)
        default = next(f.default for f in fields(self.settings) if f.name == field_name)  # type: ignore[arg-type]
        takes = f"from {low} to {high}" if high is not None else f"of at least {low}"
        self.add(
            field_name,
            f"{name} is {value}: it takes a whole number {takes}{unit}",
            f"set {name} to a whole number {takes}, or unset it for the default {default}",
        )

    def url(self, field_name: str, shape: str) -> None:
        value = getattr(self.settings, field_name)
        if value and (found := url_shape(self.name(field_name), value)):
            self.add(field_name, found, f"set {self.name(field_name)}={shape}")

    def parsed(self, field_name: str, parse: Callable[[str], Any], shape: str) -> None:
        value = getattr(self.settings, field_name)
        if not value:
            return
        try:
            parse(value)
        except (ValueError, ConfigError) as exc:  # our parsers' messages: no secret
            self.add(field_name, str(exc), f"set {self.name(field_name)}={shape}")

    def check(self) -> None:
        if self.problems:
            raise SettingsError(self.problems)


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

    def __post_init__(self) -> None:
        rules = _Rules("oauth", self)
        for name in ("login_url", "identity_url", "api_url"):
            rules.url(name, "https://HOST (or unset it to use Xero)")
        rules.url("credentials_vault_url", "https://NAME.vault.azure.net")
        if self.grant_type not in GRANT_TYPES:
            variable = rules.name("grant_type")
            rules.add(
                "grant_type",
                f"{variable} is {self.grant_type!r}: it takes {' or '.join(GRANT_TYPES)}",
                f"set {variable}=authorization_code, or client_credentials for a custom connection",
            )
        store_shape = "file:PATH or keyvault:https://NAME.vault.azure.net/SECRET"
        rules.parsed("token_store", parse_store_uri, store_shape)
        rules.number("refresh_skew_seconds", 0, unit=" (seconds)")
        rules.number("lock_wait_seconds", 1, unit=" (seconds)")
        rules.number("lease_seconds", *LEASE_SECONDS, unit=" (seconds)")
        rules.number("timeout_seconds", 1, unit=" (seconds)")
        rules.parsed(
            "rescue_location", parse_rescue_location, "file:DIR or blob:CONTAINER[/PREFIX]"
        )
        rules.parsed(
            "token_lock",
            lambda text: keyvault_lock_location("https://x", "x", text),
            "CONTAINER/BLOB",
        )
        if not any(p.variable == rules.name("token_store") for p in rules.problems):
            rules.parsed(
                "connections",
                self._further_stores,
                "NAME,NAME (each once; 1-32 lowercase letters, digits, single dashes)",
            )
        rules.check()

    def _further_stores(self, text: str) -> None:
        """Each further set's name, and the store derived for it (oauth_etl.app.sets)."""
        from oauth_etl.app.sets import parse_names, store_for  # sets builds on these classes

        for name in parse_names(text):
            store_for(self.token_store, name)


@dataclass(frozen=True)
class XeroApiSettings:
    # 1,000 invoices with line items can take Xero longer than 30 s to answer.
    timeout_seconds: int = 120
    max_attempts: int = 5
    page_size: int = MAX_PAGE_SIZE

    def __post_init__(self) -> None:
        rules = _Rules("xero", self)
        rules.number("timeout_seconds", 1, unit=" (seconds)")
        rules.number("max_attempts", 1)
        rules.number("page_size", 1, MAX_PAGE_SIZE, " (records a page)")
        rules.check()


@dataclass(frozen=True)
class StorageSettings:
    """The landing account, container and prefix. No default account: see credential."""

    connection_string: str | None = field(default=None, repr=False)
    account_url: str | None = None
    sas_token: str | None = field(default=None, repr=False)
    container: str = "xero-raw"
    prefix: str = ""
    create_container: bool = True

    def __post_init__(self) -> None:
        rules = _Rules("storage", self)
        if self.connection_string:
            variable = rules.name("connection_string")
            if found := connection_string_problem(variable, self.connection_string):
                rules.add(
                    "connection_string",
                    found,
                    f"copy {variable} again from the portal (storage account → Access keys → "
                    "Connection string)",
                )
        else:
            rules.url("account_url", "https://ACCOUNT.blob.core.windows.net")
        rules.check()

    def credential(self) -> StorageCredential:
        """The first that is set wins: connection string; account URL + SAS; account URL
        alone (DefaultAzureCredential: managed identity, workload identity, `az login`)."""
        found = credential_of(self.connection_string, self.account_url, self.sas_token)
        if found is not None:
            return found
        raise ConfigError(
            "no landing account: set AZURE_STORAGE_CONNECTION_STRING, or "
            "AZURE_STORAGE_ACCOUNT_URL (with AZURE_STORAGE_SAS_TOKEN, or an Azure identity)"
        )


def credential_of(
    connection_string: str | None, account_url: str | None, sas_token: str | None
) -> StorageCredential | None:
    """The landing credential these select (the first set wins), None when none is set."""
    if connection_string:
        return "connection_string"
    if account_url:
        return "sas" if sas_token else "default_azure_credential"
    return None


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

    def __post_init__(self) -> None:
        rules = _Rules("tables", self)
        if self.root and (found := table_root_problem(rules.name("root"), self.root)):
            rules.add("root", found, f"set {rules.name('root')}=az://CONTAINER/PATH, or unset it")
        rules.number("retention_days", 0, unit=" (days)")
        rules.url("endpoint_url", "http(s)://HOST[:PORT]/ACCOUNT")
        rules.check()


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
        rules = _Rules("webhooks", self)
        # An intent-to-receive probe is ~100 bytes: a smaller limit would answer it 413.
        rules.number("max_body_bytes", 1024, unit=" (bytes)")
        if self.queue_connection_string:
            variable = rules.name("queue_connection_string")
            found = connection_string_problem(variable, self.queue_connection_string, "queue")
            if found:
                rules.add(
                    "queue_connection_string",
                    found,
                    f"set {variable} to the queue account's connection string "
                    "(AccountName=...;AccountKey=...: storage account → Access keys)",
                )
        else:
            self._identity_account(rules)
        if not (_QUEUE_NAME.fullmatch(self.queue) and 3 <= len(self.queue) <= _LONGEST_QUEUE):
            variable = rules.name("queue")
            rules.add(
                "queue",
                f"{variable} {clip(self.queue)!r} is not a queue name: use 3-{_LONGEST_QUEUE} "
                f"lowercase letters, digits and single hyphens (its twin adds "
                f"{UNACTIONABLE_SUFFIX!r})",
                f"set {variable} to such a name, or unset it for xero-webhooks",
            )
        rules.check()

    def _identity_account(self, rules: _Rules) -> None:
        """An https URL: the SDK sends an Azure identity's token only over https ("Token
        credential is only supported with HTTPS"), so an http one would fail every call."""
        shape = "https://ACCOUNT.queue.core.windows.net"
        rules.url("queue_account_url", shape)
        url, name = self.queue_account_url, rules.name("queue_account_url")
        if not url or any(p.variable == name for p in rules.problems):
            return
        parts = urlsplit(url.strip())
        if parts.scheme != "https":
            port = f":{parts.port}" if parts.port else ""
            rules.add(
                "queue_account_url",
                f"{name} is {parts.scheme}://{parts.hostname}{port}: an Azure identity is only "
                "sent over https",
                f"set {name} to {shape}, or for Azurite (http) set "
                f"{rules.name('queue_connection_string')} to its connection string instead",
            )

    def configured(self) -> bool:
        """A queue is named: the receiver can run and the sensor drains it."""
        return bool(self.queue_connection_string or self.queue_account_url)

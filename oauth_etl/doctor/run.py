"""`oauth-etl doctor` on the environment contract: the connection, the API client and the
landing container built as every command builds them (`oauth_etl.app.connection`), each on
first use, so a link that cannot be built is a ✘ of its own check, and all closed after.

Every network probe is short: one attempt, a few seconds (`PROBE_TIMEOUT`), so a doctor
run with Xero, storage and the vault all down ends in seconds, not minutes of retries.

More checks: one line in `EXTRA_CHECKS`: (name, check, the checks it needs), the check a
function of the run's `Probes` returning a `CheckResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from oauth_etl.app import contract
from oauth_etl.app.connection import XeroApi, XeroConnection, open_landing
from oauth_etl.app.contract import OAuthSettings, StorageSettings, XeroApiSettings
from oauth_etl.app.sets import DEFAULT, parse_names
from oauth_etl.doctor import (
    CheckResult,
    Services,
    Step,
    after_settings,
    iter_checks,
    standard_steps,
    token_set_steps,
)
from oauth_etl.doctor.causes import PROBE_TIMEOUT, Service, explain
from oauth_etl.doctor.checks import vault_service
from oauth_etl.doctor.reports import NAME as REPORTS
from oauth_etl.doctor.reports import check_report_scopes, granted_scope
from oauth_etl.doctor.settings import (
    ACCOUNT_URL_VAR,
    API_URL_VAR,
    CONNECTION_STRING_VAR,
    IDENTITY_URL_VAR,
    VAULT_URL_VAR,
)
from oauth_etl.doctor.webhooks import KEY as WEBHOOK_KEY
from oauth_etl.doctor.webhooks import QUEUE as WEBHOOK_QUEUE
from oauth_etl.doctor.webhooks import check_webhook_key, check_webhook_queue
from oauth_etl.oauth.stores import make_secret_client, parse_store_uri, read_secret
from oauth_etl.storage.connection_string import account_endpoint, credential_kind
from oauth_etl.xero.scopes import selection

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient
    from azure.storage.blob import ContainerClient

    from oauth_etl.oauth.manager import TokenManager
    from oauth_etl.storage.container import LandingContainer
    from oauth_etl.xero.catalog import Endpoint

LOCK_WAIT = 3  # seconds: a held lock is reported, not waited for
T = TypeVar("T")
__all__ = ["LOCK_WAIT", "PROBE_TIMEOUT", "Probes", "stream_environment"]


@dataclass(frozen=True)
class Probes:
    """What a check may use, each built on first use and closed after the run."""

    environ: Mapping[str, str]
    manager: Callable[[], TokenManager]
    api: Callable[[], XeroApi]
    landing: Callable[[], LandingContainer]
    endpoints: tuple[Endpoint, ...]
    services: Services

    def granted(self) -> str:
        """The scopes the stored token set was granted ("" when none is stored)."""
        return granted_scope(self.manager())


Check = Callable[[Probes], CheckResult]
# Further checks, one line each: (name, check, names of the checks it needs).
EXTRA_CHECKS: tuple[tuple[str, Check, tuple[str, ...]], ...] = (
    (REPORTS, lambda probes: check_report_scopes(probes.granted()), ("token set",)),
    (WEBHOOK_KEY, lambda probes: check_webhook_key(probes.environ), ()),
    (WEBHOOK_QUEUE, lambda probes: check_webhook_queue(probes.environ), (WEBHOOK_KEY,)),
)


def _extra_steps(probes: Probes) -> list[Step]:
    return [
        Step(name, lambda check=check: check(probes), needs, lane=name)  # type: ignore[misc]
        for name, check, needs in EXTRA_CHECKS
    ]


def stream_environment(
    environ: Mapping[str, str] | None = None,
    *,
    with_journals: bool = False,
    with_classic_expenses: bool = False,
    secret_client: Callable[[str], SecretClient] | None = None,
) -> Iterator[CheckResult]:
    """Every check of `oauth-etl doctor` against the services the environment names,
    each result as soon as it is known.

    The scopes are checked against the default selection (what `xero_extract` reads)
    plus the opt-in endpoints asked for.
    """
    env = dict(os.environ if environ is None else environ)
    opened = _Opened()
    oauth, storage = _settings_or_defaults(env)
    oauth = dataclasses.replace(oauth, timeout_seconds=PROBE_TIMEOUT, lock_wait_seconds=LOCK_WAIT)
    api_settings = dataclasses.replace(
        _api_settings(env), timeout_seconds=PROBE_TIMEOUT, max_attempts=1
    )

    def vault(url: str) -> SecretClient:
        def build() -> SecretClient:
            if secret_client is not None:
                return secret_client(url)
            return make_secret_client(url, retry_total=0, timeout=PROBE_TIMEOUT)

        return opened.get(f"vault {url}", build, close=False)  # the connection closes it

    def landing() -> LandingContainer:
        return opened.get(
            "landing",
            lambda: open_landing(
                contract.settings(StorageSettings, env),
                connection_timeout=PROBE_TIMEOUT,
                read_timeout=PROBE_TIMEOUT,
                retry_total=0,
            ),
        )

    def connection() -> XeroConnection:
        return opened.get("connection", lambda: XeroConnection(oauth, landing, vault))

    def api() -> XeroApi:
        return opened.get("api", lambda: XeroApi(connection(), api_settings))

    def manager(name: str = DEFAULT) -> TokenManager:
        def build() -> TokenManager:
            found = connection().for_set(name).token_manager()
            # One refresh attempt: an answer lost to the short timeout leaves the old
            # refresh token usable for 30 minutes, so the next run re-sends it (Xero's
            # official reply, community.xero.com/developer/discussion/105714701).
            found.refresh_attempts = 1
            return found

        return opened.get(f"manager {name}", build, close=False)

    vault_url = oauth.credentials_vault_url
    names = [n for n in (oauth.client_id_secret_name, oauth.client_secret_secret_name) if n]

    def read(name: str) -> str:
        assert vault_url is not None
        return read_secret(vault_url, name, client=connection().vault(vault_url))

    services = _services(oauth, storage)
    endpoints = selection(with_journals=with_journals, with_classic_expenses=with_classic_expenses)
    probes = Probes(env, manager, api, landing, endpoints, services)
    try:
        steps = standard_steps(
            environ=env,
            manager=probes.manager,
            connections=lambda: api().connections_of(DEFAULT),
            landing=lambda: _probe_target(landing(), storage.create_container, services.storage),
            prefix=storage.prefix,
            endpoints=endpoints,
            read_secret=read if vault_url else None,
            secret_names=names,
            services=services,
            extra=_extra_steps(probes),
        )
        for name in _further_sets(oauth):
            steps += after_settings(
                token_set_steps(
                    lambda name=name: manager(name),  # type: ignore[misc]
                    lambda name=name: api().connections_of(name),  # type: ignore[misc]
                    endpoints,
                    name,
                    services=services,
                )
            )
        yield from iter_checks(steps)
    finally:
        opened.close()


class _Opened:
    """What the checks share, each built once by the first lane that asks (the others
    wait for it); a build that failed fails again at once, so its cause is met once and
    not waited for again; closed after the run, newest first."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._built: dict[str, Any] = {}
        self._failed: dict[str, Exception] = {}
        self._closing: list[Any] = []

    def get(self, key: str, build: Callable[[], T], *, close: bool = True) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._failed:
                raise self._failed[key]
            if key not in self._built:
                try:
                    self._built[key] = build()
                except Exception as exc:
                    self._failed[key] = exc
                    raise
                if close:
                    self._closing.append(self._built[key])
            found: T = self._built[key]
            return found

    def close(self) -> None:
        for item in reversed(self._closing):
            with contextlib.suppress(Exception):
                item.close()


def _services(oauth: OAuthSettings, storage: StorageSettings) -> Services:
    """The services the checks probe, named by their URL and the setting that sets it,
    each with the probes' timeout (so a silence is reported as one of that length)."""
    account = storage.account_url or ""
    setting = ACCOUNT_URL_VAR
    credential: Literal["key", "sas", "identity"] = "sas" if storage.sas_token else "identity"
    if storage.connection_string:
        setting = CONNECTION_STRING_VAR
        account = account_endpoint(storage.connection_string, "blob")
        credential = credential_kind(storage.connection_string)
    found = Services(
        identity=Service("Xero's identity server", oauth.identity_url, IDENTITY_URL_VAR),
        api=Service("Xero's API", oauth.api_url, API_URL_VAR),
        storage=Service(
            "the storage account",
            account,
            setting,
            "'Storage Blob Data Contributor' on the container",
            credential,
        )
        if account
        else None,
        vault=vault_service(oauth.credentials_vault_url, VAULT_URL_VAR)
        if oauth.credentials_vault_url
        else None,
        token_vault=_token_vault(oauth.token_store),
    )
    timed = {
        f.name: dataclasses.replace(service, timeout=PROBE_TIMEOUT)
        for f in dataclasses.fields(found)
        if (service := getattr(found, f.name)) is not None
    }
    return dataclasses.replace(found, **timed)


def _token_vault(token_store: str) -> Service | None:
    """The vault of a Key Vault token store (a malformed store: the settings check's)."""
    try:
        location = parse_store_uri(token_store)
    except ValueError:
        return None
    return vault_service(location.vault_url) if location.vault_url else None


def _further_sets(oauth: OAuthSettings) -> tuple[str, ...]:
    """The named token sets to check too (malformed names: the settings check reports)."""
    try:
        return parse_names(oauth.connections)
    except contract.ConfigError:
        return ()


def _probe_target(
    landing: LandingContainer, create: bool, storage: Service | None
) -> ContainerClient:
    """The landing container as a run finds it: created when missing if the settings
    allow (as the first run would); else, or when that fails, as it is, so that the
    probe reports what is wrong with its fix. An account that cannot be reached (or that
    rejects the credential) is reported now: the probe would only wait for it again."""
    if create:
        try:
            return landing.client()
        except Exception as exc:
            cause = explain(exc, storage) if storage is not None else None
            if cause is not None and cause.key:
                raise
    return landing.service.get_container_client(landing.name)


def _settings_or_defaults(env: Mapping[str, str]) -> tuple[OAuthSettings, StorageSettings]:
    """The settings (a malformed one is the settings check's to report)."""
    try:
        return contract.settings(OAuthSettings, env), contract.settings(StorageSettings, env)
    except contract.ConfigError:
        return OAuthSettings(), StorageSettings()


def _api_settings(env: Mapping[str, str]) -> XeroApiSettings:
    try:
        return contract.settings(XeroApiSettings, env)
    except contract.ConfigError:
        return XeroApiSettings()

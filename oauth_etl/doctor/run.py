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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oauth_etl.app import contract
from oauth_etl.app.connection import XeroApi, XeroConnection, open_landing
from oauth_etl.app.contract import OAuthSettings, StorageSettings, XeroApiSettings
from oauth_etl.app.sets import DEFAULT, parse_names
from oauth_etl.doctor import (
    CheckResult,
    Services,
    Step,
    iter_checks,
    standard_steps,
    token_set_steps,
)
from oauth_etl.doctor.causes import Service, blob_endpoint
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
from oauth_etl.xero.scopes import selection

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient
    from azure.storage.blob import ContainerClient

    from oauth_etl.oauth.manager import TokenManager
    from oauth_etl.storage.container import LandingContainer
    from oauth_etl.xero.catalog import Endpoint

PROBE_TIMEOUT = 3  # seconds: a connect or an answer, per probe
LOCK_WAIT = 3  # seconds: a held lock is reported, not waited for


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
        Step(name, lambda check=check: check(probes), needs)  # type: ignore[misc]
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
    opened: dict[str, Any] = {}
    oauth, storage = _settings_or_defaults(env)
    oauth = dataclasses.replace(oauth, timeout_seconds=PROBE_TIMEOUT, lock_wait_seconds=LOCK_WAIT)
    api_settings = dataclasses.replace(
        _api_settings(env), timeout_seconds=PROBE_TIMEOUT, max_attempts=1
    )

    def vault(url: str) -> SecretClient:
        if secret_client is not None:
            return secret_client(url)
        return make_secret_client(url, retry_total=0, timeout=PROBE_TIMEOUT)

    def landing() -> LandingContainer:
        if "landing" not in opened:
            opened["landing"] = open_landing(
                contract.settings(StorageSettings, env),
                connection_timeout=PROBE_TIMEOUT,
                read_timeout=PROBE_TIMEOUT,
                retry_total=0,
            )
        container: LandingContainer = opened["landing"]
        return container

    def connection() -> XeroConnection:
        if "connection" not in opened:
            opened["connection"] = XeroConnection(oauth, landing, vault)
        found: XeroConnection = opened["connection"]
        return found

    def api() -> XeroApi:
        if "api" not in opened:
            opened["api"] = XeroApi(connection(), api_settings)
        found: XeroApi = opened["api"]
        return found

    vault_url = oauth.credentials_vault_url
    names = [n for n in (oauth.client_id_secret_name, oauth.client_secret_secret_name) if n]

    def read(name: str) -> str:
        assert vault_url is not None
        return read_secret(vault_url, name, client=connection().vault(vault_url))

    services = _services(oauth, storage)
    endpoints = selection(with_journals=with_journals, with_classic_expenses=with_classic_expenses)
    probes = Probes(env, lambda: connection().token_manager(), api, landing, endpoints, services)
    try:
        steps = standard_steps(
            environ=env,
            manager=probes.manager,
            connections=lambda: api().connections_of(DEFAULT),
            landing=lambda: _probe_target(landing(), storage.create_container),
            prefix=storage.prefix,
            endpoints=endpoints,
            read_secret=read if vault_url else None,
            secret_names=names,
            services=services,
            extra=_extra_steps(probes),
        )
        for name in _further_sets(oauth):
            steps += token_set_steps(
                lambda name=name: connection().for_set(name).token_manager(),  # type: ignore[misc]
                lambda name=name: api().connections_of(name),  # type: ignore[misc]
                endpoints,
                name,
                services=services,
            )
        yield from iter_checks(steps)
    finally:
        for key in ("api", "connection", "landing"):
            if key in opened:
                with contextlib.suppress(Exception):
                    opened[key].close()


def _services(oauth: OAuthSettings, storage: StorageSettings) -> Services:
    """The services the checks probe, named by their URL and the setting that sets it."""
    account = storage.account_url or ""
    setting = ACCOUNT_URL_VAR
    if storage.connection_string:
        setting = CONNECTION_STRING_VAR
        account = blob_endpoint(storage.connection_string)
    return Services(
        identity=Service("Xero's identity server", oauth.identity_url, IDENTITY_URL_VAR),
        api=Service("Xero's API", oauth.api_url, API_URL_VAR),
        storage=Service(
            "the storage account",
            account,
            setting,
            "'Storage Blob Data Contributor' on the container",
        )
        if account
        else None,
        vault=vault_service(oauth.credentials_vault_url, VAULT_URL_VAR)
        if oauth.credentials_vault_url
        else None,
        token_vault=_token_vault(oauth.token_store),
    )


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


def _probe_target(landing: LandingContainer, create: bool) -> ContainerClient:
    """The landing container as a run finds it: created when missing if the settings
    allow (as the first run would); else, or when that fails, as it is, so that the
    probe reports what is wrong with its fix."""
    if create:
        with contextlib.suppress(Exception):
            return landing.client()
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

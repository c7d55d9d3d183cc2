"""`oauth-etl doctor` on the environment contract: the connection, the API client and the
landing container built as every command builds them (`oauth_etl.app.connection`), each on
first use, so a link that cannot be built is a ✘ of its own check, and all closed after.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from oauth_etl.app import contract
from oauth_etl.app.connection import XeroApi, XeroConnection, open_landing
from oauth_etl.app.contract import OAuthSettings, StorageSettings, XeroApiSettings
from oauth_etl.app.sets import DEFAULT, parse_names
from oauth_etl.doctor import CheckResult, run_checks, standard_steps, token_set_steps
from oauth_etl.oauth.stores import read_secret
from oauth_etl.xero.scopes import selection

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient
    from azure.storage.blob import ContainerClient

    from oauth_etl.storage.container import LandingContainer


def check_environment(
    environ: Mapping[str, str] | None = None,
    *,
    with_journals: bool = False,
    with_classic_expenses: bool = False,
    secret_client: Callable[[str], SecretClient] | None = None,
) -> list[CheckResult]:
    """Every check of `oauth-etl doctor` against the services the environment names.

    The scopes are checked against the default selection (what `xero_extract` reads)
    plus the opt-in endpoints asked for.
    """
    env = dict(os.environ if environ is None else environ)
    opened: dict[str, Any] = {}

    def landing() -> LandingContainer:
        if "landing" not in opened:
            opened["landing"] = open_landing(contract.settings(StorageSettings, env))
        container: LandingContainer = opened["landing"]
        return container

    def connection() -> XeroConnection:
        if "connection" not in opened:
            settings = contract.settings(OAuthSettings, env)
            opened["connection"] = XeroConnection(settings, landing, secret_client)
        found: XeroConnection = opened["connection"]
        return found

    def api() -> XeroApi:
        if "api" not in opened:
            opened["api"] = XeroApi(connection(), contract.settings(XeroApiSettings, env))
        found: XeroApi = opened["api"]
        return found

    oauth, storage = _settings_or_defaults(env)
    vault_url = oauth.credentials_vault_url
    names = [n for n in (oauth.client_id_secret_name, oauth.client_secret_secret_name) if n]

    def read(name: str) -> str:
        assert vault_url is not None
        return read_secret(vault_url, name, client=connection().vault(vault_url))

    endpoints = selection(with_journals=with_journals, with_classic_expenses=with_classic_expenses)
    try:
        steps = standard_steps(
            environ=env,
            manager=lambda: connection().token_manager(),
            connections=lambda: api().connections_of(DEFAULT),
            landing=lambda: _probe_target(landing(), storage.create_container),
            prefix=storage.prefix,
            endpoints=endpoints,
            read_secret=read if vault_url else None,
            secret_names=names,
        )
        for name in _further_sets(oauth):
            steps += token_set_steps(
                lambda name=name: connection().for_set(name).token_manager(),  # type: ignore[misc]
                lambda name=name: api().connections_of(name),  # type: ignore[misc]
                endpoints,
                name,
            )
        return run_checks(steps)
    finally:
        if "api" in opened:
            opened["api"].close()
        if "connection" in opened:
            opened["connection"].close()
        if "landing" in opened:
            opened["landing"].close()


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

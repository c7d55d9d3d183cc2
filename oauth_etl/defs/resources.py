"""The code location's resources, bound to the environment contract.

`XeroOAuthResource` owns the token set of a run: it opens one `XeroConnection`
(`oauth_etl.app.connection`) when the run's resources are set up and closes it at
teardown, so the token endpoint's HTTP client and any Key Vault client are closed
after every run, check and sensor tick. `XeroApiResource` keeps one `XeroClient`, so
every step of a run shares one rate budget per tenant. Configuration comes from the
contract (`oauth_etl.app.contract`) as `dg.EnvVar`s: resolved at launch, shown by name.

With several token sets (OAUTH_ETL_CONNECTIONS) the same two resources serve them all:
`token_manager(name)` per set, and the client puts on each tenant's calls the token of
the set that sees it (oauth_etl.app.token_sets).
"""

# No `from __future__ import annotations`: Dagster reads the field annotations at class
# creation.

from collections.abc import Mapping
from typing import Any

import dagster as dg
import httpx
from pydantic import PrivateAttr

from oauth_etl.app import contract
from oauth_etl.app.connection import XeroApi, XeroConnection
from oauth_etl.app.contract import OAuthSettings, Section, XeroApiSettings
from oauth_etl.app.sets import DEFAULT
from oauth_etl.app.token_sets import Survey
from oauth_etl.defs.fields import contract_field, settings_of
from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.storage import (
    ConnectionString,
    Credential,
    DefaultAzureCredential,
    LandingStorageResource,
    SasToken,
)
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.xero.client import Connection, XeroClient


class XeroOAuthResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Xero OAuth 2.0 connection: token refresh, persistence and locking."""

    client_id: str | None = contract_field("oauth", "client_id")
    client_secret: str | None = contract_field("oauth", "client_secret", secret=True)
    credentials_vault_url: str | None = contract_field("oauth", "credentials_vault_url")
    client_id_secret_name: str | None = contract_field("oauth", "client_id_secret_name")
    client_secret_secret_name: str | None = contract_field("oauth", "client_secret_secret_name")
    login_url: str = contract_field("oauth", "login_url")
    identity_url: str = contract_field("oauth", "identity_url")
    api_url: str = contract_field("oauth", "api_url")
    redirect_uri: str | None = contract_field("oauth", "redirect_uri")
    grant_type: str = contract_field("oauth", "grant_type")
    scopes: str = contract_field("oauth", "scopes")
    token_store: str = contract_field("oauth", "token_store")
    refresh_skew_seconds: int = contract_field("oauth", "refresh_skew_seconds")
    lock_wait_seconds: int = contract_field("oauth", "lock_wait_seconds")
    lease_seconds: int = contract_field("oauth", "lease_seconds")
    timeout_seconds: int = contract_field("oauth", "timeout_seconds")
    rescue_location: str | None = contract_field("oauth", "rescue_location")
    token_lock: str | None = contract_field("oauth", "token_lock")
    connections: str | None = contract_field("oauth", "connections")
    storage: dg.ResourceDependency[LandingStorageResource]

    _connection: XeroConnection | None = PrivateAttr(default=None)

    def settings(self) -> OAuthSettings:
        return settings_of(self, OAuthSettings)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._connection = XeroConnection(self.settings(), lambda: self.storage.landing)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._connection is not None:
            self._connection.close()

    @property
    def connection(self) -> XeroConnection:
        """The open connection (opened on first use outside a run, e.g. in tests)."""
        if self._connection is None:
            self._connection = XeroConnection(self.settings(), lambda: self.storage.landing)
        return self._connection

    def set_names(self) -> tuple[str, ...]:
        """Every token set: the default first, then OAUTH_ETL_CONNECTIONS in order."""
        return self.connection.set_names()

    def token_manager(self, token_set: str = DEFAULT) -> TokenManager:
        return self.connection.for_set(token_set).token_manager()

    def auth(self) -> httpx.Auth:
        return self.connection.auth()


class XeroApiResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Xero Accounting API for the connected tenants, authorized by `XeroOAuthResource`."""

    oauth: dg.ResourceDependency[XeroOAuthResource]
    timeout_seconds: int = contract_field("xero", "timeout_seconds")
    max_attempts: int = contract_field("xero", "max_attempts")
    page_size: int = contract_field("xero", "page_size")

    _api: XeroApi | None = PrivateAttr(default=None)

    def settings(self) -> XeroApiSettings:
        return settings_of(self, XeroApiSettings)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._api = XeroApi(self.oauth.connection, self.settings())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._api is not None:
            self._api.close()

    @property
    def api(self) -> XeroApi:
        if self._api is None:
            self._api = XeroApi(self.oauth.connection, self.settings())
        return self._api

    def client(self) -> XeroClient:
        """The run's one client: every step of the run shares its per-tenant rate budgets."""
        return self.api.client()

    def connections(self) -> list[Connection]:
        """Every tenant once, from every token set (one that cannot answer raises)."""
        return self.api.connections()

    def survey(self) -> Survey:
        """What each token set sees now; a set that cannot answer is recorded, not raised."""
        return self.api.survey()

    def granted_scopes(self) -> tuple[str, ...] | None:
        """The stored token sets' scopes (several sets: any set's, since Xero itself refuses
        a call its set lacks the scope for); None when none is stored or none is known."""
        granted: list[str] = []
        for name in self.oauth.set_names():
            tokens = self.oauth.token_manager(name).current()
            if tokens is not None and tokens.scope:
                granted += [s for s in tokens.scope.split() if s not in granted]
        return tuple(granted) or None


def _bound(section: Section, environ: Mapping[str, str] | None, env_vars: bool) -> dict[str, Any]:
    """The fields of `section` the environment sets (and the required ones it lacks)."""
    values = contract.values(section, environ)
    missing = contract.missing(environ)
    bound: dict[str, Any] = {}
    for variable in contract.variables(section):
        if variable.field not in values and variable.name not in missing:
            continue
        if env_vars:
            # Resolved when a run launches: an unset required variable fails it by name.
            bound[variable.field] = (
                dg.EnvVar.int(variable.name) if variable.kind == "int" else dg.EnvVar(variable.name)
            )
        elif variable.field in values:
            bound[variable.field] = values[variable.field]
    return bound


def _credential(storage: dict[str, Any], environ: Mapping[str, str] | None) -> Credential:
    kind = contract.storage_credential(environ)
    if kind == "sas":
        return SasToken(account_url=storage["account_url"], sas_token=storage["sas_token"])
    if kind == "default_azure_credential":
        return DefaultAzureCredential(account_url=storage["account_url"])
    # Unset as a value: the launch (or the first use, with values) fails naming the variable.
    return ConnectionString(
        connection_string=storage.get("connection_string")
        or dg.EnvVar("AZURE_STORAGE_CONNECTION_STRING")
    )


def build_resources(
    environ: Mapping[str, str] | None = None, *, env_vars: bool = True
) -> dict[str, Any]:
    """The resources of the code location, configured from the environment contract.

    `env_vars=True` (the code location) binds `dg.EnvVar`s; `False` binds the values
    (tests and the demo, which run in this process with `environ` as given).
    """
    storage_fields = _bound("storage", environ, env_vars)
    storage = LandingStorageResource(
        credential=_credential(storage_fields, environ),
        **{k: v for k, v in storage_fields.items() if k in ("container", "prefix")},
    )
    oauth = XeroOAuthResource(storage=storage, **_bound("oauth", environ, env_vars))
    return {
        "storage": storage,
        "oauth": oauth,
        "xero": XeroApiResource(oauth=oauth, **_bound("xero", environ, env_vars)),
        "landing_io_manager": BlobLandingIOManager(storage=storage),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())

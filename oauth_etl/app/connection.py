"""The Xero connection in plain Python: the token manager, its lock and the API client.

The Dagster resources and the command line open the same `XeroConnection` from the same
settings (`app.contract`) and close it when done (`close()`: the token endpoint's HTTP
client, Key Vault clients, the API client). No Dagster here; Azure SDKs only when used.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from oauth_etl.app import contract
from oauth_etl.app.contract import ConfigError, OAuthSettings, StorageSettings, XeroApiSettings
from oauth_etl.app.landing import AccountContainer, LeaseLock
from oauth_etl.app.landing import open_landing as open_landing  # where callers find it
from oauth_etl.app.provider import XERO
from oauth_etl.app.sets import DEFAULT, set_names, settings_for
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.authorize import DEFAULT_REDIRECT_URI, Mode, authorize
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.locks import CrossProcessLock, FileLock, keyvault_lock_location
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.rescue import (
    BlobRescueSink,
    FileRescueSink,
    RescueSink,
    default_rescue_dir,
    parse_rescue_location,
)
from oauth_etl.oauth.stores import (
    FileTokenStore,
    KeyVaultTokenStore,
    StoreLocation,
    TokenStore,
    make_secret_client,
    parse_store_uri,
    read_secret,
)
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl.xero.scopes import DEFAULT_SCOPES

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

    from oauth_etl.app.token_sets import Survey, TenantDirectory
    from oauth_etl.storage.container import LandingContainer
    from oauth_etl.xero.client import Connection, XeroClient
    from oauth_etl.xero.rate import RateBudget


class XeroConnection:
    """The Xero app's OAuth connection: one token manager, built on first use.

    The default token set's connection also opens the further sets' (`for_set`,
    OAUTH_ETL_CONNECTIONS: oauth_etl.app.sets) and closes them with itself.
    """

    def __init__(
        self,
        settings: OAuthSettings,
        landing: Callable[[], LandingContainer] | None = None,
        secret_client: Callable[[str], SecretClient] | None = None,
        name: str = DEFAULT,
    ) -> None:
        """`landing` gives the landing container (its account holds the Key Vault store's
        lock); `secret_client` opens a vault (default: `make_secret_client`, looked up
        when used); `name` is the token set's (settings already derived for it)."""
        self.settings = settings
        self.name = name
        self._landing = landing
        self._secret_client = secret_client
        self._vaults: dict[str, SecretClient] = {}
        self._manager: TokenManager | None = None
        self._endpoint: TokenEndpoint | None = None
        self._sets: dict[str, XeroConnection] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        named = "" if self.name == DEFAULT else f"name={self.name!r}, "
        return f"XeroConnection({named}store={self.settings.token_store!r})"

    def set_names(self) -> tuple[str, ...]:
        """The token sets this connection reaches: every set of the deployment from the
        default set's connection (default first), just its own from a named one."""
        return set_names(self.settings) if self.name == DEFAULT else (self.name,)

    def for_set(self, name: str) -> XeroConnection:
        """The connection of token set `name` (opened once; ConfigError if not declared)."""
        if name == self.name:
            return self
        if self.name != DEFAULT:
            raise ValueError(f"token set {self.name!r} does not open other sets")
        with self._lock:
            found = self._sets.get(name)
            if found is None:
                found = self._sets[name] = XeroConnection(
                    settings_for(self.settings, name), self._landing, self._secret_client, name
                )
            return found

    def vault(self, url: str) -> SecretClient:
        """The vault's client, opened once per URL and closed by `close()`."""
        client = self._vaults.get(url)
        if client is None:
            opener = self._secret_client or make_secret_client
            client = self._vaults[url] = opener(url)
        return client

    def credentials(self) -> tuple[str, str | None]:
        """The app's client id and secret (from Key Vault where the settings say so)."""
        s = self.settings
        client_id, client_secret = s.client_id, s.client_secret
        if s.credentials_vault_url:
            vault = self.vault(s.credentials_vault_url)
            if s.client_id_secret_name:
                client_id = read_secret(
                    s.credentials_vault_url, s.client_id_secret_name, client=vault
                )
            if s.client_secret_secret_name:
                client_secret = read_secret(
                    s.credentials_vault_url, s.client_secret_secret_name, client=vault
                )
        elif s.client_id_secret_name or s.client_secret_secret_name:
            raise ConfigError(
                "XERO_CLIENT_ID_SECRET_NAME / XERO_CLIENT_SECRET_SECRET_NAME need "
                "XERO_CREDENTIALS_VAULT_URL: the vault that holds them"
            )
        if not client_id:
            raise ConfigError(
                "the Xero client id is not set: set XERO_CLIENT_ID (or "
                "XERO_CLIENT_ID_SECRET_NAME with XERO_CREDENTIALS_VAULT_URL)"
            )
        return client_id, client_secret or None

    def _store_and_lock(self) -> tuple[TokenStore, CrossProcessLock]:
        location = parse_store_uri(self.settings.token_store)
        wait = float(self.settings.lock_wait_seconds)
        if location.kind == "file":
            assert location.path is not None
            store = FileTokenStore(location.path)
            return store, FileLock(store.lock_path, timeout=wait)
        assert location.vault_url is not None and location.secret_name is not None
        kv_store = KeyVaultTokenStore(
            location.vault_url, location.secret_name, client=self.vault(location.vault_url)
        )
        # Key Vault has no lock of its own: lease a blob in the landing account, which
        # every pod and machine of the deployment can reach. Its place comes from the
        # secret's identity alone, so every process that may rotate the secret takes it.
        where = keyvault_lock_location(
            location.vault_url, location.secret_name, self.settings.token_lock, XERO.lock_prefix
        )
        from oauth_etl.storage.lease import BlobLeaseLock

        landing = self._landing_or_fail("a Key Vault token store (its lock)")
        locks = AccountContainer(landing, where.container).client()
        lease = BlobLeaseLock(
            locks.get_blob_client(where.blob),
            lease_seconds=self.settings.lease_seconds,
            wait_timeout=wait,
        )
        return kv_store, LeaseLock(lease, wait)

    def _landing_or_fail(self, what: str) -> Callable[[], LandingContainer]:
        if self._landing is None:
            raise ConfigError(
                f"{what} needs the landing account: configure it "
                "(AZURE_STORAGE_ACCOUNT_URL or AZURE_STORAGE_CONNECTION_STRING)"
            )
        return self._landing

    def rescue_sink(self, location: StoreLocation | None = None) -> RescueSink:
        """Where a token set that cannot be saved goes (OAUTH_ETL_RESCUE_LOCATION).

        Unset: beside a file store, else the local default directory (which a pod
        loses: `oauth-etl doctor` warns about it for Key Vault).
        """
        text = self.settings.rescue_location
        if not text:
            location = location or parse_store_uri(self.settings.token_store)
            return FileRescueSink(location.path.parent if location.path else default_rescue_dir())
        where = parse_rescue_location(text)
        if where.kind == "file":
            assert where.path is not None
            return FileRescueSink(where.path)
        assert where.container is not None
        container = AccountContainer(
            self._landing_or_fail("a blob rescue location"), where.container
        )
        return BlobRescueSink(container, where.prefix)

    def token_manager(self) -> TokenManager:
        """The connection's one token manager (built on first use)."""
        with self._lock:  # a run's threads may ask first at once: one manager, one endpoint
            if self._manager is None:
                self._manager = self._new_manager()
            return self._manager

    def _new_manager(self) -> TokenManager:
        client_id, client_secret = self.credentials()
        identity = self.settings.identity_url.rstrip("/")
        location = parse_store_uri(self.settings.token_store)
        store, lock = self._store_and_lock()
        self._endpoint = TokenEndpoint(
            token_url=f"{identity}/connect/token",
            revocation_url=f"{identity}/connect/revocation",
            client_id=client_id,
            client_secret=client_secret,
            timeout=float(self.settings.timeout_seconds),
            provider=XERO,
        )
        return TokenManager(
            store,
            self._endpoint,
            lock,
            skew_seconds=float(self.settings.refresh_skew_seconds),
            grant=self.settings.grant_type,  # type: ignore[arg-type]  # checked there
            scope=self.settings.scopes,
            rescue=self.rescue_sink(location),
        )

    def authorize(
        self,
        *,
        mode: Mode,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        redirect_uri: str | None = None,
        port: int = 0,
        output: Callable[[str], None] = print,
        **kwargs: Any,
    ) -> TokenSet:
        """Run the authorization code flow (PKCE) and store the first token set.

        The redirect URI: `redirect_uri`, else XERO_REDIRECT_URI, else the default on
        `port` when given (older callers), else DEFAULT_REDIRECT_URI.
        """
        client_id, _ = self.credentials()
        return authorize(
            self.token_manager(),
            login_url=self.settings.login_url,
            client_id=client_id,
            scopes=scopes,
            mode=mode,
            redirect_uri=self.redirect_uri(redirect_uri, port),
            output=output,
            **kwargs,
        )

    def redirect_uri(self, given: str | None = None, port: int = 0) -> str:
        if given:
            return given
        if self.settings.redirect_uri:
            return self.settings.redirect_uri
        return f"http://localhost:{port}/callback" if port else DEFAULT_REDIRECT_URI

    def auth(self) -> httpx.Auth:
        """An `httpx.Auth` that puts a fresh bearer token on every request."""
        return BearerAuth(self.token_manager())

    def close(self) -> None:
        """Close every client this connection opened; it may be used again afterwards."""
        if self._endpoint is not None:
            self._endpoint.close()
        for client in self._vaults.values():
            client.close()
        self._vaults.clear()
        for named in self._sets.values():
            named.close()
        self._sets.clear()
        self._endpoint = self._manager = None


class XeroApi:
    """The Accounting API on a connection: one client, so one rate budget per tenant.

    With several token sets the client puts on each call the token of the set that sees
    its tenant (oauth_etl.app.token_sets); with one set it is that set's client, as ever.
    """

    def __init__(
        self,
        connection: XeroConnection,
        settings: XeroApiSettings,
        budget_factory: Callable[[str], RateBudget] | None = None,  # None: Xero's limits
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.budget_factory = budget_factory
        self._client: XeroClient | None = None
        self._set_clients: dict[str, XeroClient] = {}  # each set's own, for /connections
        self._directory: TenantDirectory | None = None

    def _new_client(self, auth: httpx.Auth) -> XeroClient:
        from oauth_etl.xero.client import XeroClient

        return XeroClient(
            self.connection.settings.api_url,
            auth,
            timeout=float(self.settings.timeout_seconds),
            max_attempts=self.settings.max_attempts,
            page_size=self.settings.page_size,
            budget_factory=self.budget_factory,
        )

    def several(self) -> bool:
        return len(self.connection.set_names()) > 1

    def client(self) -> XeroClient:
        """The one client of this run or command (built on first use)."""
        if self._client is None:
            if self.several():
                from oauth_etl.app.token_sets import TenantRouter

                auth: httpx.Auth = TenantRouter(
                    lambda name: self.connection.for_set(name).auth(), self.directory().owner
                )
            else:
                auth = self.connection.auth()
            self._client = self._new_client(auth)
        return self._client

    def connections_of(self, name: str) -> list[Connection]:
        """The organisations token set `name` sees (GET /connections with its token)."""
        if not self.several():
            self.connection.for_set(name)  # a name that is not declared fails clearly
            return self.client().connections()
        client = self._set_clients.get(name)
        if client is None:
            client = self._set_clients[name] = self._new_client(
                self.connection.for_set(name).auth()
            )
        return client.connections()

    def survey(self) -> Survey:
        """Every set's organisations now (a failing set recorded, not raised)."""
        from oauth_etl.app.token_sets import survey

        return survey(self.connection.set_names(), self.connections_of)

    def directory(self) -> TenantDirectory:
        """Tenant -> token set, surveyed once for this client's lifetime."""
        if self._directory is None:
            from oauth_etl.app.token_sets import TenantDirectory

            self._directory = TenantDirectory(self.survey)
        return self._directory

    def connections(self) -> list[Connection]:
        """Every tenant once (several sets: as its owning set sees it; a failing set raises)."""
        if not self.several():
            return self.client().connections()
        found = self.survey()
        for view in found.failed():
            assert view.error is not None
            raise view.error
        return found.connections()

    def close(self) -> None:
        for client in [self._client, *self._set_clients.values()]:
            if client is not None:
                client.close()
        self._client = None
        self._set_clients.clear()
        self._directory = None


@contextlib.contextmanager
def open_from_environment(
    environ: Mapping[str, str] | None = None,
    token_set: str | None = None,
    secret_client: Callable[[str], SecretClient] | None = None,
) -> Iterator[tuple[XeroConnection, XeroApi]]:
    """The connection and API the environment contract describes, closed on exit.
    `token_set`: that set's connection and an API on its token alone (default: the default
    set's, reaching every set's tenants); `secret_client` opens a vault (as XeroConnection's).
    The landing account is opened only when a token store needs its lock."""
    landing: list[LandingContainer] = []

    def landing_container() -> LandingContainer:
        if not landing:
            landing.append(open_landing(contract.settings(StorageSettings, environ)))
        return landing[0]

    settings = contract.settings(OAuthSettings, environ)
    root = XeroConnection(settings, landing_container, secret_client)
    try:
        connection = root.for_set(token_set) if token_set else root
        api = XeroApi(connection, contract.settings(XeroApiSettings, environ))
        try:
            yield connection, api
        finally:
            api.close()
    finally:
        root.close()
        for container in landing:
            container.close()

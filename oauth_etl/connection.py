"""The Xero connection in plain Python: the token manager, its lock and the API client.

The Dagster resources (`oauth_etl.defs.resources`) and the command line open the same
`XeroConnection` from the same settings (`oauth_etl.contract`) and close it when done:
the token endpoint's HTTP client, Key Vault clients and the Xero API client are opened
at most once each and closed in `close()`. Nothing here imports Dagster, and Azure SDKs
are imported only when a Key Vault or the landing account is actually used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from oauth_etl import contract
from oauth_etl.contract import ConfigError, OAuthSettings, StorageSettings, XeroApiSettings
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.authorize import DEFAULT_REDIRECT_URI, DEFAULT_SCOPES, Mode, authorize
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import LockTimeout, TokenStoreError
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

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient
    from azure.storage.blob import ContainerClient

    from oauth_etl.storage.container import LandingContainer
    from oauth_etl.storage.lease import BlobLeaseLock
    from oauth_etl.xero.client import Connection, XeroClient


class LeaseLock:
    """A blob lease as the token lifecycle's cross-process lock, speaking its errors."""

    def __init__(self, lease: BlobLeaseLock, wait_seconds: float) -> None:
        self._lease = lease
        self._wait_seconds = wait_seconds

    def describe(self) -> str:
        return self._lease.describe()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        from oauth_etl.storage.errors import LeaseLost, LeaseTimeout

        try:
            with self._lease.hold():
                yield
        except LeaseTimeout:
            raise LockTimeout(self._lease.describe(), self._wait_seconds) from None
        except LeaseLost as exc:
            raise TokenStoreError(
                f"the refresh lock {self._lease.describe()} was lost while held ({exc}); "
                "run `oauth-etl token status` to check the stored token set"
            ) from None


class AccountContainer:
    """Another container of the landing account (same client and credential), checked
    or created on first use: the lock's and the rescue copies' containers."""

    def __init__(self, landing: Callable[[], LandingContainer], name: str) -> None:
        self._landing = landing
        self.name = name
        self._container: LandingContainer | None = None

    def _opened(self) -> LandingContainer:
        if self._container is None:
            from oauth_etl.storage.container import LandingContainer

            # Shares the landing container's service client: closed with it, never here.
            self._container = LandingContainer(self._landing().service, self.name)
        return self._container

    def client(self) -> ContainerClient:
        return self._opened().client()

    # What BlobRescueSink uses (its ContainerLike): the URL never carries a SAS.
    @property
    def url(self) -> str:
        return self._opened().url()

    def upload_blob(self, name: str, data: bytes, **kwargs: Any) -> Any:
        return self.client().upload_blob(name, data, **kwargs)

    def download_blob(self, blob: str, **kwargs: Any) -> Any:
        return self.client().download_blob(blob, **kwargs)


class XeroConnection:
    """The Xero app's OAuth connection: one token manager, built on first use."""

    def __init__(
        self,
        settings: OAuthSettings,
        landing: Callable[[], LandingContainer] | None = None,
        secret_client: Callable[[str], SecretClient] | None = None,
    ) -> None:
        """`landing` gives the landing container (its account holds the Key Vault store's
        lock); `secret_client` opens a vault (default: `make_secret_client`, looked up
        when used)."""
        self.settings = settings
        self._landing = landing
        self._secret_client = secret_client
        self._vaults: dict[str, SecretClient] = {}
        self._manager: TokenManager | None = None
        self._endpoint: TokenEndpoint | None = None

    def __repr__(self) -> str:
        return f"XeroConnection(store={self.settings.token_store!r})"

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
            location.vault_url, location.secret_name, self.settings.token_lock
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
        if self._manager is None:
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
            )
            self._manager = TokenManager(
                store,
                self._endpoint,
                lock,
                skew_seconds=float(self.settings.refresh_skew_seconds),
                grant=self.settings.grant_type,  # type: ignore[arg-type]  # checked there
                scope=self.settings.scopes,
                rescue=self.rescue_sink(location),
            )
        return self._manager

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
        self._endpoint = self._manager = None


class XeroApi:
    """The Accounting API on a connection: one client, so one rate budget per tenant."""

    def __init__(self, connection: XeroConnection, settings: XeroApiSettings) -> None:
        self.connection = connection
        self.settings = settings
        self._client: XeroClient | None = None

    def client(self) -> XeroClient:
        """The one client of this run or command (built on first use)."""
        if self._client is None:
            from oauth_etl.xero.client import XeroClient

            self._client = XeroClient(
                self.connection.settings.api_url,
                self.connection.auth(),
                timeout=float(self.settings.timeout_seconds),
                max_attempts=self.settings.max_attempts,
                page_size=self.settings.page_size,
            )
        return self._client

    def connections(self) -> list[Connection]:
        return self.client().connections()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def open_landing(settings: StorageSettings) -> LandingContainer:
    """The landing container the settings name (its credential: StorageSettings.credential)."""
    from oauth_etl.storage.account import make_blob_service_client
    from oauth_etl.storage.container import LandingContainer

    kind = settings.credential()
    service = make_blob_service_client(
        connection_string=settings.connection_string if kind == "connection_string" else None,
        account_url=None if kind == "connection_string" else settings.account_url,
        sas_token=settings.sas_token if kind == "sas" else None,
    )
    return LandingContainer(
        service,
        settings.container,
        prefix=settings.prefix,
        create_container=settings.create_container,
        scoped_sas=kind == "sas",
    )


@contextlib.contextmanager
def open_from_environment(
    environ: Mapping[str, str] | None = None,
) -> Iterator[tuple[XeroConnection, XeroApi]]:
    """The connection and API the environment contract describes, closed on exit.

    The landing account is opened only when the token store needs its lock.
    """
    landing: list[LandingContainer] = []

    def landing_container() -> LandingContainer:
        if not landing:
            landing.append(open_landing(contract.settings(StorageSettings, environ)))
        return landing[0]

    connection = XeroConnection(contract.settings(OAuthSettings, environ), landing_container)
    api = XeroApi(connection, contract.settings(XeroApiSettings, environ))
    try:
        yield connection, api
    finally:
        api.close()
        connection.close()
        for container in landing:
            container.close()

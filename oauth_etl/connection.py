"""The Xero connection in plain Python: the token manager, its lock and the API client.

The Dagster resources (`oauth_etl.defs.resources`) and the command line open the same
`XeroConnection` from the same settings (`oauth_etl.contract`) and close it when done:
the token endpoint's HTTP client, Key Vault clients and the Xero API client are opened
at most once each and closed in `close()`. Nothing here imports Dagster, and Azure SDKs
are imported only when a Key Vault or the landing account is actually used.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from oauth_etl import contract
from oauth_etl.contract import ConfigError, OAuthSettings, StorageSettings, XeroApiSettings
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.authorize import DEFAULT_SCOPES, Mode, authorize
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import LockTimeout, TokenStoreError
from oauth_etl.oauth.locks import CrossProcessLock, FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import (
    FileTokenStore,
    KeyVaultTokenStore,
    TokenStore,
    make_secret_client,
    parse_store_uri,
    read_secret,
)
from oauth_etl.oauth.tokens import TokenSet

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

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


class XeroConnection:
    """The Xero app's OAuth connection: one token manager, built on first use."""

    def __init__(
        self,
        settings: OAuthSettings,
        landing: Callable[[], LandingContainer] | None = None,
        secret_client: Callable[[str], SecretClient] = make_secret_client,
    ) -> None:
        """`landing` gives the landing container that holds the Key Vault store's lock."""
        self.settings = settings
        self._landing = landing
        self._secret_client = secret_client
        self._vaults: dict[str, SecretClient] = {}
        self._manager: TokenManager | None = None
        self._endpoint: TokenEndpoint | None = None

    def __repr__(self) -> str:
        return f"XeroConnection(store={self.settings.token_store!r})"

    def _vault(self, url: str) -> SecretClient:
        client = self._vaults.get(url)
        if client is None:
            client = self._vaults[url] = self._secret_client(url)
        return client

    def credentials(self) -> tuple[str, str | None]:
        """The app's client id and secret (from Key Vault where the settings say so)."""
        s = self.settings
        client_id, client_secret = s.client_id, s.client_secret
        if s.credentials_vault_url:
            vault = self._vault(s.credentials_vault_url)
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
            location.vault_url, location.secret_name, client=self._vault(location.vault_url)
        )
        if self._landing is None:
            raise ConfigError(
                "a Key Vault token store locks a blob in the landing account: configure it "
                "(AZURE_STORAGE_ACCOUNT_URL or AZURE_STORAGE_CONNECTION_STRING)"
            )
        # Key Vault has no lock of its own: lease a blob in the landing account, which
        # every pod and machine of the deployment can reach.
        digest = hashlib.sha256(location.describe().encode()).hexdigest()[:12]
        lease = self._landing().lease_lock(
            f"xero-token-{digest}",
            lease_seconds=self.settings.lease_seconds,
            wait_timeout=wait,
        )
        return kv_store, LeaseLock(lease, wait)

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
                # Beside a file store; for Key Vault, in the working directory (a pod's volume).
                rescue_dir=location.path.parent if location.path else Path(".oauth_etl"),
            )
        return self._manager

    def authorize(
        self,
        *,
        mode: Mode,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        port: int = 0,
        output: Callable[[str], None] = print,
        redirect_uri: str | None = None,
        **kwargs: Any,
    ) -> TokenSet:
        """Run the authorization code flow (PKCE) and store the first token set.

        `redirect_uri` overrides the setting (XERO_REDIRECT_URI) for this authorization."""
        client_id, _ = self.credentials()
        return authorize(
            self.token_manager(),
            login_url=self.settings.login_url,
            client_id=client_id,
            scopes=scopes,
            mode=mode,
            redirect_uri=redirect_uri or self.settings.redirect_uri,
            port=port,
            output=output,
            **kwargs,
        )

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

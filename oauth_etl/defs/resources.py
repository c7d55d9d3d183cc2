"""Dagster resources: the Xero OAuth connection and the Xero API built on it.

`XeroOAuthResource` is the one owner of the token set in a process: every asset,
check, schedule and CLI command asks it for a `TokenManager`, which refreshes under
an in-process lock plus a cross-process lock (a file lock beside a file store, a
blob lease beside a Key Vault store) so that parallel steps never rotate the
refresh token twice.
"""

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import httpx
from pydantic import Field, JsonValue, PrivateAttr

from oauth_etl import settings as env
from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.authorize import DEFAULT_SCOPES, Mode, authorize
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import LockTimeout, TokenStoreError
from oauth_etl.oauth.locks import CrossProcessLock, FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import (
    FileTokenStore,
    StoreLocation,
    TokenStore,
    open_store,
    parse_store_uri,
    read_secret,
)
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl.settings import Settings
from oauth_etl.storage.errors import LeaseLost, LeaseTimeout
from oauth_etl.storage.lease import BlobLeaseLock
from oauth_etl.xero.client import Connection, XeroClient

SECRET: dict[str, JsonValue] = {"dagster__is_secret": True}


class LeaseLock:
    """A blob lease as the token lifecycle's cross-process lock, speaking its errors."""

    def __init__(self, lease: BlobLeaseLock, wait_seconds: float) -> None:
        self._lease = lease
        self._wait_seconds = wait_seconds

    def describe(self) -> str:
        return self._lease.describe()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
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


class XeroOAuthResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Xero OAuth 2.0 connection: token refresh, persistence and locking."""

    client_id: str | None = Field(
        default=None, description="Xero app client id (or name a Key Vault secret below)."
    )
    client_secret: str | None = Field(
        default=None,
        description="Xero app client secret; empty for a PKCE public client.",
        json_schema_extra=SECRET,
        repr=False,
    )
    credentials_vault_url: str | None = Field(
        default=None,
        description="Key Vault holding the client id/secret, for teams that keep them there.",
    )
    client_id_secret_name: str | None = Field(
        default=None, description="Key Vault secret holding the client id."
    )
    client_secret_secret_name: str | None = Field(
        default=None, description="Key Vault secret holding the client secret."
    )
    login_url: str = Field(default=env.DEFAULT_LOGIN_URL, description="Authorize host.")
    identity_url: str = Field(default=env.DEFAULT_IDENTITY_URL, description="Token host.")
    api_url: str = Field(default=env.DEFAULT_API_URL, description="API host.")
    token_store: str = Field(
        default=env.DEFAULT_TOKEN_STORE,
        description="`file:PATH` or `keyvault:https://NAME.vault.azure.net/SECRET`.",
    )
    grant_type: Literal["authorization_code", "client_credentials"] = Field(
        default="authorization_code",
        description="`client_credentials` for Xero custom connections (no refresh token).",
    )
    scopes: str = Field(
        default="",
        description="Scopes to request with client credentials (space separated).",
    )
    refresh_skew_seconds: int = Field(
        default=300, description="Refresh an access token this long before it expires."
    )
    lock_wait_seconds: float = Field(
        default=120.0, description="Longest wait for the cross-process refresh lock."
    )
    lease_seconds: int = Field(
        default=30, description="Blob lease length for the Key Vault store's lock (15-60)."
    )
    timeout_seconds: float = Field(default=30.0, description="Token endpoint timeout.")
    storage: dg.ResourceDependency[LandingStorageResource]

    _manager: TokenManager | None = PrivateAttr(default=None)

    def _credentials(self) -> tuple[str, str | None]:
        client_id, client_secret = self.client_id, self.client_secret
        if self.credentials_vault_url:
            if self.client_id_secret_name:
                client_id = read_secret(self.credentials_vault_url, self.client_id_secret_name)
            if self.client_secret_secret_name:
                client_secret = read_secret(
                    self.credentials_vault_url, self.client_secret_secret_name
                )
        if not client_id:
            raise ValueError(
                "the Xero client id is not set: set XERO_CLIENT_ID (or client_id_secret_name "
                "with credentials_vault_url)"
            )
        return client_id, client_secret or None

    def _store_and_lock(self, location: StoreLocation) -> tuple[TokenStore, CrossProcessLock]:
        store = open_store(location)
        if isinstance(store, FileTokenStore):
            return store, FileLock(store.lock_path, timeout=self.lock_wait_seconds)
        # Key Vault has no lock of its own: lease a blob in the landing account, which
        # every pod and machine of the deployment can reach.
        digest = hashlib.sha256(location.describe().encode()).hexdigest()[:12]
        lease = self.storage.lease_lock(
            f"xero-token-{digest}",
            lease_seconds=self.lease_seconds,
            wait_timeout=self.lock_wait_seconds,
        )
        return store, LeaseLock(lease, self.lock_wait_seconds)

    def token_manager(self) -> TokenManager:
        """The process's one token manager (built on first use)."""
        if self._manager is None:
            client_id, client_secret = self._credentials()
            identity = self.identity_url.rstrip("/")
            location = parse_store_uri(self.token_store)
            store, lock = self._store_and_lock(location)
            self._manager = TokenManager(
                store,
                TokenEndpoint(
                    token_url=f"{identity}/connect/token",
                    revocation_url=f"{identity}/connect/revocation",
                    client_id=client_id,
                    client_secret=client_secret,
                    timeout=self.timeout_seconds,
                ),
                lock,
                skew_seconds=self.refresh_skew_seconds,
                grant=self.grant_type,
                scope=self.scopes,
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
    ) -> TokenSet:
        """Run the authorization code flow (PKCE) and store the first token set."""
        client_id, _ = self._credentials()
        return authorize(
            self.token_manager(),
            login_url=self.login_url,
            client_id=client_id,
            scopes=scopes,
            mode=mode,
            port=port,
            output=output,
        )

    def auth(self) -> httpx.Auth:
        """An `httpx.Auth` that puts a fresh bearer token on every request."""
        return BearerAuth(self.token_manager())


class XeroApiResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Xero Accounting API for the connected tenants, authorized by `XeroOAuthResource`."""

    oauth: dg.ResourceDependency[XeroOAuthResource]
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    max_attempts: int = Field(default=5, description="Attempts per request on 5xx/transport.")
    page_size: int = Field(default=1000, description="pageSize for endpoints that take it.")

    def client(self) -> XeroClient:
        return XeroClient(
            self.oauth.api_url,
            self.oauth.auth(),
            timeout=self.timeout_seconds,
            max_attempts=self.max_attempts,
            page_size=self.page_size,
        )

    def connections(self) -> list[Connection]:
        with self.client() as client:
            return client.connections()


def build_resources(
    config: Settings, secret: Callable[[str, str | None], str | None] = lambda _, v: v
) -> dict[str, Any]:
    """The resources of the code location, from the environment contract.

    `secret(variable, value)` lets `definitions.py` pass secrets as `dg.EnvVar`
    (shown by name in the UI), while the command line passes the values.
    """
    storage = LandingStorageResource(
        connection_string=secret(env.STORAGE_CONNECTION_STRING, config.storage_connection_string),
        account_url=config.storage_account_url,
        sas_token=secret(env.STORAGE_SAS_TOKEN, config.storage_sas_token),
        container=config.container,
        prefix=config.prefix,
    )
    oauth = XeroOAuthResource(
        client_id=secret(env.XERO_CLIENT_ID, config.client_id),
        client_secret=secret(env.XERO_CLIENT_SECRET, config.client_secret),
        login_url=config.login_url,
        identity_url=config.identity_url,
        api_url=config.api_url,
        token_store=config.token_store,
        storage=storage,
    )
    return {
        "storage": storage,
        "oauth": oauth,
        "xero": XeroApiResource(oauth=oauth),
        "landing_io_manager": BlobLandingIOManager(storage=storage),
    }


def _env_var_secret(name: str, value: str | None) -> str | None:
    """An `EnvVar` when the variable is set: resolved at run time, shown by name only."""
    return dg.EnvVar(name) if value else None


@dg.definitions
def resources() -> dg.Definitions:
    """The code location's resources, bound to the environment contract."""
    return dg.Definitions(resources=build_resources(Settings.from_env(), secret=_env_var_secret))

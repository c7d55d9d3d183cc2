"""The landing account as the connection uses it: the landing container the settings
name, the Key Vault store's lease lock, and the containers of locks and rescue copies.
Azure SDKs are imported only when one is used."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from oauth_etl.app.contract import StorageSettings
from oauth_etl.oauth.errors import LockTimeout, TokenStoreError

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

    from oauth_etl.storage.container import LandingContainer
    from oauth_etl.storage.lease import BlobLeaseLock


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

    def list_blob_names(self, **kwargs: Any) -> Any:
        return self.client().list_blob_names(**kwargs)


def open_landing(settings: StorageSettings, **client_options: Any) -> LandingContainer:
    """The landing container the settings name (its credential: StorageSettings.credential);
    `client_options`: `make_blob_service_client`'s timeouts and retries (doctor: short)."""
    from oauth_etl.storage.account import make_blob_service_client
    from oauth_etl.storage.container import LandingContainer

    kind = settings.credential()
    service = make_blob_service_client(
        connection_string=settings.connection_string if kind == "connection_string" else None,
        account_url=None if kind == "connection_string" else settings.account_url,
        sas_token=settings.sas_token if kind == "sas" else None,
        **client_options,
    )
    return LandingContainer(
        service,
        settings.container,
        prefix=settings.prefix,
        create_container=settings.create_container,
        scoped_sas=kind == "sas",
    )

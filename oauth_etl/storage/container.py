"""The landing container: checked (or created) once, lease locks in it, closed once.

Plain Python: the Dagster resource (`oauth_etl.defs.storage`) and the command line
both open one of these and close it when done.
"""

from __future__ import annotations

import re

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from oauth_etl.storage.account import account_url_of, describe_account, map_azure_error
from oauth_etl.storage.errors import ContainerMissing, StorageAuthError
from oauth_etl.storage.lease import BlobLeaseLock
from oauth_etl.storage.manifest import normalize_prefix

_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_LOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_container_name(name: str) -> str:
    if not _CONTAINER_NAME.match(name):
        raise ValueError(
            f"container {name!r} is not a valid name: 3-63 lowercase letters, "
            "digits and single hyphens, starting and ending with a letter or digit"
        )
    return name


class LandingContainer:
    """One container of one account, owning its `BlobServiceClient`."""

    def __init__(
        self,
        service: BlobServiceClient,
        container: str,
        *,
        prefix: str = "",
        create_container: bool = True,
        scoped_sas: bool = False,
    ) -> None:
        self.service = service
        self.name = check_container_name(container)
        self.prefix = normalize_prefix(prefix)
        self._create = create_container
        # A container- or blob-scoped SAS may not read container properties.
        self._scoped_sas = scoped_sas
        self._client: ContainerClient | None = None

    def client(self) -> ContainerClient:
        """The container client, the container created when absent if allowed (once)."""
        if self._client is None:
            client = self.service.get_container_client(self.name)
            self._ensure(client)
            self._client = client
        return self._client

    def _ensure(self, client: ContainerClient) -> None:
        account = describe_account(client)
        try:
            client.get_container_properties()
            return
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            error = map_azure_error(exc, account=account, container=self.name)
            if isinstance(error, StorageAuthError) and self._scoped_sas:
                return  # its rights are checked by the operations that follow
            raise error from None
        if not self._create:
            raise ContainerMissing(
                f"container '{self.name}' does not exist in {account}: create it "
                "(e.g. `az storage container create -n NAME`) or set create_container=True"
            )
        try:
            client.create_container()
        except ResourceExistsError:
            pass  # created concurrently: fine
        except AzureError as exc:
            error = map_azure_error(exc, account=account, container=self.name)
            if isinstance(error, StorageAuthError):
                raise ContainerMissing(
                    f"container '{self.name}' does not exist in {account} and this "
                    "credential may not create it: create it, or grant the right to"
                ) from None
            raise error from None

    def lease_lock(
        self, name: str, lease_seconds: int = 30, wait_timeout: float = 120.0
    ) -> BlobLeaseLock:
        """A cross-process lock on `<prefix>_locks/<name>.lock` in the landing container."""
        if not _LOCK_NAME.match(name):
            raise ValueError(f"lock name {name!r}: use letters, digits, '.', '_' or '-'")
        blob = self.client().get_blob_client(f"{self.prefix}_locks/{name}.lock")
        return BlobLeaseLock(blob, lease_seconds=lease_seconds, wait_timeout=wait_timeout)

    def url(self) -> str:
        """`<account endpoint>/<container>` without any SAS."""
        return f"{account_url_of(self.service)}/{self.name}"

    def describe(self) -> str:
        return f"container '{self.name}' in {describe_account(self.service)}"

    def close(self) -> None:
        self.service.close()

    def __repr__(self) -> str:
        return f"LandingContainer({self.describe()!r}, prefix={self.prefix!r})"

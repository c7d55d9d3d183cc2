"""The landing account as a Dagster resource: configuration, clients and lease locks."""

from __future__ import annotations

import os
import re
from typing import Any

import dagster as dg
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient
from pydantic import Field, PrivateAttr

from oauth_etl.storage.account import (
    account_url_of,
    describe_account,
    make_blob_service_client,
    map_azure_error,
    safe_url,
)
from oauth_etl.storage.errors import ContainerMissing, StorageAuthError
from oauth_etl.storage.lease import BlobLeaseLock
from oauth_etl.storage.manifest import normalize_prefix

DEFAULT_CONTAINER = "xero-raw"
_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_LOCK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class LandingStorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where raw data lands. Nothing set = the Azurite development account (127.0.0.1:10000).

    Authentication, first match wins: `connection_string`; `account_url` + `sas_token`;
    `account_url` alone = `DefaultAzureCredential` (managed identity, `az login`).
    """

    connection_string: str | None = Field(
        default=None,
        description="Storage connection string (AZURE_STORAGE_CONNECTION_STRING).",
        json_schema_extra={"dagster__is_secret": True},
    )
    account_url: str | None = Field(
        default=None,
        description="https://ACCOUNT.blob.core.windows.net (AZURE_STORAGE_ACCOUNT_URL).",
    )
    sas_token: str | None = Field(
        default=None,
        description="SAS token for account_url (without the leading '?').",
        json_schema_extra={"dagster__is_secret": True},
    )
    container: str = Field(default=DEFAULT_CONTAINER, description="Landing container.")
    create_container: bool = Field(
        default=True, description="Create the container when it does not exist."
    )
    prefix: str = Field(default="", description="Path prefix inside the container, e.g. 'raw/'.")

    _service: BlobServiceClient | None = PrivateAttr(default=None)
    _container_ready: bool = PrivateAttr(default=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LandingStorageResource:
        """Configuration from AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_URL,
        AZURE_STORAGE_SAS_TOKEN, OAUTH_ETL_CONTAINER and OAUTH_ETL_PREFIX (for the CLI)."""
        env = os.environ if environ is None else environ
        return cls(
            connection_string=env.get("AZURE_STORAGE_CONNECTION_STRING") or None,
            account_url=env.get("AZURE_STORAGE_ACCOUNT_URL") or None,
            sas_token=env.get("AZURE_STORAGE_SAS_TOKEN") or None,
            container=env.get("OAUTH_ETL_CONTAINER") or DEFAULT_CONTAINER,
            prefix=env.get("OAUTH_ETL_PREFIX") or "",
        )

    @property
    def normalized_prefix(self) -> str:
        return normalize_prefix(self.prefix)

    def service_client(self) -> BlobServiceClient:
        if self._service is None:
            # An empty EnvVar means "not set", so the Azurite default still applies.
            self._service = make_blob_service_client(
                connection_string=self.connection_string or None,
                account_url=self.account_url or None,
                sas_token=self.sas_token or None,
            )
        return self._service

    def container_client(self) -> ContainerClient:
        """The landing container, created when absent if allowed; checked once per resource."""
        if not _CONTAINER_NAME.match(self.container):
            raise ValueError(
                f"container {self.container!r} is not a valid name: 3-63 lowercase letters, "
                "digits and single hyphens, starting and ending with a letter or digit"
            )
        client = self.service_client().get_container_client(self.container)
        if not self._container_ready:
            self._ensure_container(client)
            self._container_ready = True
        return client

    def _ensure_container(self, client: ContainerClient) -> None:
        account = describe_account(client)
        try:
            client.get_container_properties()
            return
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            error = map_azure_error(exc, account=account, container=self.container)
            if isinstance(error, StorageAuthError) and self.sas_token:
                # A container- or blob-scoped SAS may not read container properties; its
                # rights are checked by the operations that follow.
                return
            raise error from None
        if not self.create_container:
            raise ContainerMissing(
                f"container '{self.container}' does not exist in {account}: create it "
                "(e.g. `az storage container create -n NAME`) or set create_container=True"
            )
        try:
            client.create_container()
        except ResourceExistsError:
            pass  # created concurrently: fine
        except AzureError as exc:
            error = map_azure_error(exc, account=account, container=self.container)
            if isinstance(error, StorageAuthError):
                raise ContainerMissing(
                    f"container '{self.container}' does not exist in {account} and this "
                    "credential may not create it: create it, or grant the right to"
                ) from None
            raise error from None

    def lease_lock(
        self, name: str, lease_seconds: int = 30, wait_timeout: float = 120.0
    ) -> BlobLeaseLock:
        """A cross-process lock on `<prefix>_locks/<name>.lock` in the landing container."""
        if not _LOCK_NAME.match(name):
            raise ValueError(f"lock name {name!r}: use letters, digits, '.', '_' or '-'")
        blob = self.container_client().get_blob_client(
            f"{self.normalized_prefix}_locks/{name}.lock"
        )
        return BlobLeaseLock(blob, lease_seconds=lease_seconds, wait_timeout=wait_timeout)

    def container_url(self) -> str:
        """`<account endpoint>/<container>` without any SAS."""
        return f"{account_url_of(self.service_client())}/{self.container}"

    def describe(self) -> str:
        return f"container '{self.container}' in {describe_account(self.service_client())}"

    def __str__(self) -> str:
        return repr(self)  # pydantic's str would list every field, secrets included

    def __repr__(self) -> str:
        parts: list[Any] = [f"container={self.container!r}", f"prefix={self.prefix!r}"]
        if self.account_url:
            parts.insert(0, f"account_url={safe_url(self.account_url)!r}")
        return f"LandingStorageResource({', '.join(parts)})"

"""`LandingStorageResource`: where raw data lands, as a Dagster resource.

The credential is one of three shapes, told apart by `credential_type` (as in
dagster-azure): a connection string; an account URL with a SAS; an account URL with
`DefaultAzureCredential` (managed identity, workload identity, `az login`). There is no
default account. The container client is opened when a step starts and closed when
it ends (`setup_for_execution` / `teardown_after_execution`).
"""

# No `from __future__ import annotations`: Dagster reads the field annotations at class
# creation.

from typing import Literal

import dagster as dg
from azure.storage.blob import ContainerClient
from pydantic import Field, PrivateAttr

from oauth_etl.app.connection import open_landing
from oauth_etl.app.contract import StorageSettings, default_of
from oauth_etl.defs.fields import secret_field
from oauth_etl.storage.account import safe_url
from oauth_etl.storage.container import LandingContainer, check_container_name
from oauth_etl.storage.lease import BlobLeaseLock


class ConnectionString(dg.Config):
    credential_type: Literal["connection_string"] = "connection_string"
    connection_string: str = secret_field(
        "Storage connection string (AZURE_STORAGE_CONNECTION_STRING)."
    )


class SasToken(dg.Config):
    credential_type: Literal["sas"] = "sas"
    account_url: str = Field(description="https://ACCOUNT.blob.core.windows.net")
    sas_token: str = secret_field("SAS token for the account URL (AZURE_STORAGE_SAS_TOKEN).")


class DefaultAzureCredential(dg.Config):
    credential_type: Literal["default_azure_credential"] = "default_azure_credential"
    account_url: str = Field(description="https://ACCOUNT.blob.core.windows.net")


Credential = ConnectionString | SasToken | DefaultAzureCredential


class LandingStorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The landing account, container and prefix."""

    credential: Credential = Field(
        discriminator="credential_type",
        description="How to reach the account: connection string, SAS, or Azure identity.",
    )
    container: str = Field(
        default=default_of("storage", "container"), description="Landing container."
    )
    create_container: bool = Field(
        default=True, description="Create the container when it does not exist."
    )
    prefix: str = Field(
        default=default_of("storage", "prefix"),
        description="Path prefix inside the container, e.g. 'raw/'.",
    )

    _landing: LandingContainer | None = PrivateAttr(default=None)

    def settings(self) -> StorageSettings:
        c = self.credential
        return StorageSettings(
            connection_string=c.connection_string if isinstance(c, ConnectionString) else None,
            account_url=None if isinstance(c, ConnectionString) else c.account_url,
            sas_token=c.sas_token if isinstance(c, SasToken) else None,
            container=check_container_name(self.container),
            prefix=self.prefix,
            create_container=self.create_container,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._landing = open_landing(self.settings())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._landing is not None:
            self._landing.close()
            self._landing = None

    @property
    def landing(self) -> LandingContainer:
        """The open container (opened on first use outside a Dagster step, e.g. in tests)."""
        if self._landing is None:
            self._landing = open_landing(self.settings())
        return self._landing

    # What assets, checks and the IO manager use: ------------------------------------
    def container_client(self) -> ContainerClient:
        return self.landing.client()

    def lease_lock(
        self, name: str, lease_seconds: int = 30, wait_timeout: float = 120.0
    ) -> BlobLeaseLock:
        return self.landing.lease_lock(name, lease_seconds=lease_seconds, wait_timeout=wait_timeout)

    def container_url(self) -> str:
        return self.landing.url()

    def describe(self) -> str:
        return self.landing.describe()

    def __str__(self) -> str:
        return repr(self)  # pydantic's str would list every field, secrets included

    def __repr__(self) -> str:
        parts = [f"container={self.container!r}", f"prefix={self.prefix!r}"]
        if not isinstance(self.credential, ConnectionString):
            parts.insert(0, f"account_url={safe_url(self.credential.account_url)!r}")
        return f"LandingStorageResource({', '.join(parts)})"

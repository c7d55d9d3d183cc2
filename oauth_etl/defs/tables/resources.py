"""`DeltaTablesResource`: where the Delta tables live and how delta-rs reaches them.

Built from the landing storage resource (same account, same credential) plus the `tables`
section of the contract. A run opens one `TableStore` on first use and closes its Azure
identity credential, if it made one, at teardown.
"""

# No `from __future__ import annotations`: Dagster reads the field annotations at class
# creation.

from collections.abc import Mapping
from functools import partial
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from oauth_etl.app import contract
from oauth_etl.app.contract import TablesSettings
from oauth_etl.defs.fields import contract_field, settings_of
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource, SasToken
from oauth_etl.defs.tables.batches import LandedBatchesIOManager
from oauth_etl.tables.location import TableStore, default_root


class DeltaTablesResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Delta tables of the landing account: one per endpoint, plus child tables."""

    storage: dg.ResourceDependency[LandingStorageResource]
    root: str | None = contract_field("tables", "root")
    retention_days: int = contract_field("tables", "retention_days")
    endpoint_url: str | None = contract_field("tables", "endpoint_url")

    _store: TableStore | None = PrivateAttr(default=None)
    _credential: Any = PrivateAttr(default=None)

    def settings(self) -> TablesSettings:
        return settings_of(self, TablesSettings)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._store = None  # opened on first use: a run that merges nothing needs no token

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._credential is not None:
            self._credential.close()
            self._credential = None
        self._store = None

    @property
    def store(self) -> TableStore:
        if self._store is None:
            self._store = self._open()
        return self._store

    def _open(self) -> TableStore:
        self.settings()  # a malformed root, retention or endpoint: refused naming its variable
        credential = self.storage.credential
        # Everything but the credential is the same whichever credential the account has.
        open_store = partial(
            TableStore.for_account,
            container=self.storage.container,
            prefix=self.storage.prefix,
            root=self.root,
            endpoint_url=self.endpoint_url,
        )
        if isinstance(credential, ConnectionString):
            return open_store(connection_string=credential.connection_string)
        if isinstance(credential, SasToken):
            return open_store(account_url=credential.account_url, sas_token=credential.sas_token)
        from azure.identity import DefaultAzureCredential

        self._credential = DefaultAzureCredential()
        return open_store(account_url=credential.account_url, credential=self._credential)

    def location(self) -> str:
        """The root, for descriptions and metadata (never a credential)."""
        return self.root or default_root(self.storage.container, self.storage.prefix)


def build_table_resources(
    storage: LandingStorageResource,
    environ: Mapping[str, str] | None = None,
    *,
    env_vars: bool = True,
) -> dict[str, Any]:
    """The `tables` resource on `storage`, from the contract's `tables` section (bound as
    `dg.EnvVar`s in the code location, as values in tests and the demo), and the input
    manager the table assets read the landed batches with."""

    values = contract.values("tables", environ)
    bound: dict[str, Any] = {}
    for variable in contract.variables("tables"):
        if variable.field not in values:
            continue
        if env_vars:
            bound[variable.field] = (
                dg.EnvVar.int(variable.name) if variable.kind == "int" else dg.EnvVar(variable.name)
            )
        else:
            bound[variable.field] = values[variable.field]
    return {
        "tables": DeltaTablesResource(storage=storage, **bound),
        "landed_batches_io_manager": LandedBatchesIOManager(storage=storage),
    }


@dg.definitions
def table_resources() -> dg.Definitions:
    from oauth_etl.defs.resources import build_resources  # the landing account, as bound

    return dg.Definitions(resources=build_table_resources(build_resources()["storage"]))

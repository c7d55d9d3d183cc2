"""Azure Blob landing in plain Python: streaming writer, manifests, verified reader, lease lock.

Nothing here imports Dagster: the landing resource and IO manager built on this package
live in `oauth_etl.defs.storage` and `oauth_etl.defs.io_manager`.
"""

from oauth_etl.storage.account import (
    AZURITE_DEV_CONNECTION_STRING,
    StorageAccount,
    azurite_dev_connection_string,
    describe_account,
    make_blob_service_client,
    storage_errors,
)
from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.storage.errors import (
    ChecksumMismatch,
    ContainerMissing,
    LeaseLost,
    LeaseTimeout,
    ManifestError,
    StorageAuthError,
    StorageError,
    StorageUnreachable,
)
from oauth_etl.storage.lease import BlobLeaseLock
from oauth_etl.storage.manifest import Manifest, ManifestPart
from oauth_etl.storage.reader import iter_records, latest_batch, list_batches
from oauth_etl.storage.writer import sweep_incomplete_batches, write_batch

__all__ = [
    "AZURITE_DEV_CONNECTION_STRING",
    "BatchStats",
    "BlobLeaseLock",
    "ChecksumMismatch",
    "ContainerMissing",
    "LandingBatch",
    "LeaseLost",
    "LeaseTimeout",
    "Manifest",
    "ManifestError",
    "ManifestPart",
    "StorageAccount",
    "StorageAuthError",
    "StorageError",
    "StorageUnreachable",
    "azurite_dev_connection_string",
    "describe_account",
    "iter_records",
    "latest_batch",
    "list_batches",
    "make_blob_service_client",
    "storage_errors",
    "sweep_incomplete_batches",
    "write_batch",
]

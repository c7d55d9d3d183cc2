"""Azure Blob landing in plain Python: streaming writer, manifests, verified reader, lease lock.

Nothing here imports Dagster: the landing resource and IO manager built on this package
live in `oauth_etl.defs.storage` and `oauth_etl.defs.io_manager`. The names below load
on first use, so `oauth_etl.storage.errors` (which the command line imports) does not
pull in the Azure SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oauth_etl.storage.account import (
        describe_account,
        make_blob_service_client,
        storage_errors,
    )
    from oauth_etl.storage.batch import BatchStats, LandingBatch
    from oauth_etl.storage.container import LandingContainer
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
    from oauth_etl.storage.reader import iter_records, latest_batch, list_batches, read_batch
    from oauth_etl.storage.sweep import sweep_incomplete_batches
    from oauth_etl.storage.writer import write_batch

_MODULE_OF = {
    "describe_account": "account",
    "make_blob_service_client": "account",
    "storage_errors": "account",
    "BatchStats": "batch",
    "LandingBatch": "batch",
    "LandingContainer": "container",
    "ChecksumMismatch": "errors",
    "ContainerMissing": "errors",
    "LeaseLost": "errors",
    "LeaseTimeout": "errors",
    "ManifestError": "errors",
    "StorageAuthError": "errors",
    "StorageError": "errors",
    "StorageUnreachable": "errors",
    "BlobLeaseLock": "lease",
    "Manifest": "manifest",
    "ManifestPart": "manifest",
    "iter_records": "reader",
    "latest_batch": "reader",
    "read_batch": "reader",
    "list_batches": "reader",
    "sweep_incomplete_batches": "sweep",
    "write_batch": "writer",
}
__all__ = [
    "BatchStats",
    "BlobLeaseLock",
    "ChecksumMismatch",
    "ContainerMissing",
    "LandingBatch",
    "LandingContainer",
    "LeaseLost",
    "LeaseTimeout",
    "Manifest",
    "ManifestError",
    "ManifestPart",
    "StorageAuthError",
    "StorageError",
    "StorageUnreachable",
    "describe_account",
    "iter_records",
    "latest_batch",
    "list_batches",
    "make_blob_service_client",
    "read_batch",
    "storage_errors",
    "sweep_incomplete_batches",
    "write_batch",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

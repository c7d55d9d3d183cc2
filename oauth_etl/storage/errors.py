"""The storage layer's exceptions: one hierarchy, messages that say what to do, never a secret.

Every message names the account (name or URL without query string), the container and,
where it matters, the blob. Keys, SAS tokens and connection strings never appear.
"""

from __future__ import annotations


class StorageError(RuntimeError):
    """Base class for every error raised by `oauth_etl.storage`."""


class StorageAuthError(StorageError):
    """The account refused the credential (wrong key, expired SAS, missing rights, 401/403)."""


class StorageUnreachable(StorageError):
    """The account endpoint did not answer (connection refused, DNS, timeout)."""


class ContainerMissing(StorageError):
    """The container does not exist and may not (or could not) be created."""


class ChecksumMismatch(StorageError):
    """A landed part's bytes do not match its manifest (sha256 or size)."""


class ManifestError(StorageError):
    """A `_manifest.json` is malformed, inconsistent, or already exists."""


class LeaseTimeout(StorageError):
    """A blob lease lock could not be acquired within the wait timeout."""


class LeaseLost(StorageError):
    """A held blob lease could not be renewed: another holder may have run concurrently."""

"""Cross-process locks: only one process refreshes a token set at a time.

`FileLock` serves the file store (processes on one machine). A blob-lease lock
with the same shape serves Key Vault deployments across machines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import filelock

from oauth_etl.oauth.errors import LockTimeout, TokenStoreError, clip


@runtime_checkable
class CrossProcessLock(Protocol):
    def hold(self) -> AbstractContextManager[None]:
        """Hold the lock for the `with` block; bounded wait, `LockTimeout` when it ends."""
        ...

    def describe(self) -> str:
        """Where the lock lives (for messages and `token status`)."""
        ...


class LockFileUnusable(TokenStoreError, OSError):
    """The lock file cannot be made: a token-store error with its fix for a person, and
    still the OSError it was for callers that look at `errno` (doctor's path check)."""

    def __init__(self, message: str, cause: OSError) -> None:
        super().__init__(message)
        self.errno, self.strerror = cause.errno, cause.strerror

    def __str__(self) -> str:
        return str(self.args[0])


class FileLock:
    """An OS file lock (flock/LockFileEx) on `path`, via the filelock package."""

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def describe(self) -> str:
        return f"file lock {self.path}"

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, timeout={self.timeout})"

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        # A fresh lock object per hold: no shared counters between threads.
        lock = filelock.FileLock(str(self.path), timeout=self.timeout, mode=0o600)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock.acquire()
        except filelock.Timeout:
            raise LockTimeout(self.describe(), self.timeout) from None
        except OSError as exc:
            raise LockFileUnusable(
                f"cannot take the lock file {clip(str(self.path), 120)} ({exc.strerror}): "
                "the token store's directory must be a writable directory with a path the "
                "file system allows (OAUTH_ETL_TOKEN_STORE)",
                exc,
            ) from None
        try:
            yield
        finally:
            lock.release()


# -- the Key Vault store's lock: where it lives ------------------------------------------
# Key Vault has no lock, so a blob lease serves. Every process that may rotate one secret
# must lease the same blob, whatever its landing container, prefix or URL spelling: the
# blob's name comes from the secret's identity only. Key Vault object identifiers are
# case-insensitive URLs (learn.microsoft.com/azure/key-vault/about-keys-secrets-and-certificates).
LOCK_CONTAINER = "oauth-etl-locks"
_BLOB_PATH = re.compile(r"^[A-Za-z0-9._\-/]{1,900}$")


@dataclass(frozen=True)
class LockLocation:
    """A lease blob: `container` in the landing storage account, blob path `blob`."""

    container: str
    blob: str

    def describe(self) -> str:
        return f"blob {self.blob!r} in container {self.container!r}"


def secret_identity(vault_url: str, secret_name: str) -> str:
    """`host/secret`, lower-cased, default port dropped: one spelling per secret."""
    parts = urlsplit(vault_url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValueError(f"vault URL {vault_url!r} has no host")
    port = parts.port
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return f"{netloc}/{secret_name.strip().lower()}"


def keyvault_lock_location(
    vault_url: str, secret_name: str, override: str | None = None, prefix: str = "oauth-token"
) -> LockLocation:
    """The lease blob guarding one Key Vault secret.

    Default: `oauth-etl-locks/<prefix>-<sha256(identity)[:16]>.lock` (the provider's
    `lock_prefix`: a deployment's processes must agree on it). `override`
    (`CONTAINER/BLOB-PATH`) names it explicitly, e.g. when two deployments with
    different storage accounts share a secret and must agree on one account's blob.
    """
    if override:
        container, _, blob = override.strip().strip("/").partition("/")
        if not _CONTAINER.match(container) or not blob or not _BLOB_PATH.match(blob):
            raise ValueError(
                f"lock location {override!r}: expected CONTAINER/BLOB-PATH (container 3-63 "
                "lowercase letters, digits or dashes; blob letters, digits, . _ - /)"
            )
        return LockLocation(container, blob)
    digest = hashlib.sha256(secret_identity(vault_url, secret_name).encode()).hexdigest()[:16]
    return LockLocation(LOCK_CONTAINER, f"{prefix}-{digest}.lock")


_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")

"""A cross-process lock on an Azure blob lease: works across processes, pods and machines.

The lease is renewed by a daemon thread while held, so a long critical section keeps it;
a holder that dies stops renewing and the lease expires after `lease_seconds`, letting the
next waiter take over. Same shape as `oauth_etl.oauth.locks.CrossProcessLock`:
`hold()` and `describe()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, BlobLeaseClient

from oauth_etl.storage.account import describe_account, map_azure_error
from oauth_etl.storage.errors import LeaseLost, LeaseTimeout, StorageError

MIN_LEASE_SECONDS = 15  # Azure's bounds for a finite lease
MAX_LEASE_SECONDS = 60
# Lease calls are tiny: fail fast rather than wait out a lease on one slow socket.
_CALL_TIMEOUTS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 10}


def _status(exc: AzureError) -> int | None:
    return exc.status_code if isinstance(exc, HttpResponseError) else None


class BlobLeaseLock:
    """Exclusive lock = an active lease on one (small, auto-created) blob."""

    def __init__(
        self,
        blob_client: BlobClient,
        *,
        lease_seconds: int = 30,
        wait_timeout: float = 120.0,
        poll_interval: float = 0.5,
    ) -> None:
        if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(
                f"lease_seconds must be {MIN_LEASE_SECONDS}..{MAX_LEASE_SECONDS} (Azure's "
                f"limits), got {lease_seconds}"
            )
        if wait_timeout < 0 or poll_interval <= 0:
            raise ValueError("wait_timeout must be >= 0 and poll_interval > 0")
        self._blob = blob_client
        self.lease_seconds = lease_seconds
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.lost: str | None = None  # why the last hold lost its lease, if it did

    def describe(self) -> str:
        return (
            f"blob lease lock '{self._blob.blob_name}' in container "
            f"'{self._blob.container_name}' of {describe_account(self._blob)}"
        )

    def __repr__(self) -> str:
        return f"BlobLeaseLock({self.describe()}, lease_seconds={self.lease_seconds})"

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the block; raises `LeaseTimeout` if it is not free in time and
        `LeaseLost` on exit if the lease could not be kept (another holder may have run)."""
        lease = self._acquire()
        renewer = _Renewer(lease, self.lease_seconds, self.describe())
        self.lost = None
        renewer.start()
        try:
            yield
        except BaseException as exc:
            self._finish(renewer, lease)
            if self.lost:
                exc.add_note(self.lost)
            raise
        self._finish(renewer, lease)
        if self.lost:
            raise LeaseLost(self.lost)

    # --- internals ------------------------------------------------------------------
    def _error(self, exc: AzureError) -> StorageError:
        return map_azure_error(
            exc,
            account=describe_account(self._blob),
            container=self._blob.container_name,
            blob=self._blob.blob_name,
        )

    def _acquire(self) -> BlobLeaseClient:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                lease = BlobLeaseClient(self._blob)
                lease.acquire(lease_duration=self.lease_seconds, **_CALL_TIMEOUTS)
                return lease
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) == "ContainerNotFound":
                    raise self._error(exc) from None
                self._create_blob()
                continue
            except AzureError as exc:
                if _status(exc) != 409:  # 409 LeaseAlreadyPresent: someone holds it
                    raise self._error(exc) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LeaseTimeout(
                    f"could not acquire {self.describe()} within {self.wait_timeout:.0f} s: "
                    f"another process holds it (a holder that died loses it within "
                    f"{self.lease_seconds} s); retry later or raise wait_timeout"
                )
            time.sleep(min(self.poll_interval, remaining))

    def _create_blob(self) -> None:
        try:
            # overwrite=False is If-None-Match: *: racing creators all succeed or see 409/412.
            self._blob.upload_blob(b"", overwrite=False, **_CALL_TIMEOUTS)
        except AzureError as exc:
            if _status(exc) not in (409, 412):
                raise self._error(exc) from None

    def _finish(self, renewer: _Renewer, lease: BlobLeaseClient) -> None:
        renewer.stop()
        try:
            lease.release(**_CALL_TIMEOUTS)
        except AzureError as exc:
            if _status(exc) in (409, 412) and renewer.lost is None:
                renewer.lost = (
                    f"{self.describe()}: the lease was no longer ours at release "
                    f"(HTTP {_status(exc)}); another process may have held the lock meanwhile"
                )
            # Otherwise (network trouble) the lease simply expires within lease_seconds.
        self.lost = renewer.lost


class _Renewer(threading.Thread):
    """Renews the lease every lease_seconds / 3 until stopped or definitively lost."""

    def __init__(self, lease: BlobLeaseClient, lease_seconds: int, what: str) -> None:
        super().__init__(name="blob-lease-renewer", daemon=True)
        self._lease = lease
        self._interval = lease_seconds / 3
        self._what = what
        self._stopped = threading.Event()
        self.lost: str | None = None

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=30)

    def run(self) -> None:
        delay = self._interval
        while not self._stopped.wait(delay):
            try:
                self._lease.renew(**_CALL_TIMEOUTS)
                delay = self._interval
            except AzureError as exc:
                if _status(exc) in (404, 409, 412):
                    # Someone else holds the lease now, or the blob is gone: definitive.
                    self.lost = (
                        f"{self._what}: renewing the lease failed (HTTP {_status(exc)}); "
                        "another process may have held the lock meanwhile"
                    )
                    return
                # Transient: retry soon. Azure renews an expired lease as long as nobody
                # leased the blob meanwhile, so a late success keeps exclusivity intact.
                delay = min(1.0, self._interval)
            except Exception as exc:  # a renewer must never die silently
                self.lost = f"{self._what}: renewing the lease failed ({type(exc).__name__})"
                return

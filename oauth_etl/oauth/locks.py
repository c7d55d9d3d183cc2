"""Cross-process locks: only one process refreshes a token set at a time.

`FileLock` serves the file store (processes on one machine). A blob-lease lock
with the same shape serves Key Vault deployments across machines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

import filelock

from oauth_etl.oauth.errors import LockTimeout


@runtime_checkable
class CrossProcessLock(Protocol):
    def hold(self) -> AbstractContextManager[None]:
        """Hold the lock for the `with` block; bounded wait, `LockTimeout` when it ends."""
        ...

    def describe(self) -> str:
        """Where the lock lives (for messages and `token status`)."""
        ...


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
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A fresh lock object per hold: no shared counters between threads.
        lock = filelock.FileLock(str(self.path), timeout=self.timeout, mode=0o600)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise LockTimeout(self.describe(), self.timeout) from None
        try:
            yield
        finally:
            lock.release()


class ThreadOnlyLock:
    """No cross-process exclusion: for a single process (tests, one-off scripts)."""

    def describe(self) -> str:
        return "no cross-process lock (single process)"

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        yield

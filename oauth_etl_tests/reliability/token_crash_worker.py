"""A process that dies (SIGKILL) at one step of the refresh protocol:
`python -m oauth_etl_tests.reliability.token_crash_worker --kill-at STEP ...`.

Steps, in protocol order (the lock is held from the first to the last):
  before-call   lock held, store re-read, the token request not yet sent
  after-answer  the token endpoint answered (the token rotated), nothing saved
  mid-save      FileTokenStore.save wrote and fsynced its temp file, before the rename
  after-save    FileTokenStore.save returned (renamed), before the read-back and unlock
  none          no kill: the process that comes next

Store: the token file (`--store`) with a FileLock beside it, or the shared on-disk fake
Key Vault (`--keyvault-state`) with a BlobLeaseLock on Azurite (`--lease-container`,
`--lease-blob`; the connection string comes from AZURE_STORAGE_CONNECTION_STRING).

Prints `{"waiting": t}` before asking for a token and `{"acquired": t}` when the
cross-process lock is taken (both flushed), then one JSON result line like
`oauth_etl_tests.oauth.token_worker`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from unittest import mock

import orjson

from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.oauth.locks import CrossProcessLock, FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore, TokenStore
from oauth_etl.oauth.tokens import TokenSet, fingerprint_of
from oauth_etl_tests.oauth.token_worker import kill_after_refresh

STEPS = ("before-call", "after-answer", "mid-save", "after-save", "none")


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillBeforeCall(TokenEndpoint):
    def refresh(self, refresh_token: str) -> dict[str, Any]:
        die()
        raise AssertionError("unreachable")


class KillAfterSave(FileTokenStore):
    def save(self, tokens: TokenSet) -> None:
        super().save(tokens)
        die()


@contextlib.contextmanager
def kill_mid_save(store: FileTokenStore) -> Iterator[None]:
    """SIGKILL inside FileTokenStore.save: temp file written and fsynced, rename not done."""
    real_replace = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst) == store.path:
            temp = Path(src)
            assert temp.exists() and temp.stat().st_size > 0, "temp file not written"
            die()
        real_replace(src, dst, *args, **kwargs)

    with mock.patch.object(os, "replace", replace):  # FileTokenStore.save calls os.replace
        yield


class AnnouncedLock:
    """Prints the moment the wrapped lock is acquired (for lease takeover timing)."""

    def __init__(self, inner: CrossProcessLock) -> None:
        self._inner = inner

    def describe(self) -> str:
        return self._inner.describe()

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        with self._inner.hold():
            print(orjson.dumps({"acquired": time.time()}).decode(), flush=True)
            yield

    def hold(self) -> AbstractContextManager[None]:
        return self._hold()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--kill-at", choices=STEPS, required=True)
    parser.add_argument("--store", default=None, help="token file (file store + FileLock)")
    parser.add_argument("--keyvault-state", default=None, help="shared fake Key Vault dir")
    parser.add_argument("--lease-container", default=None)
    parser.add_argument("--lease-blob", default="xero-token.lock")
    parser.add_argument("--lease-seconds", type=int, default=15)
    args = parser.parse_args(argv)

    endpoint_class = KillBeforeCall if args.kill_at == "before-call" else TokenEndpoint
    endpoint = endpoint_class(
        f"{args.url}/connect/token",
        f"{args.url}/connect/revocation",
        args.client_id,
        args.client_secret,
        timeout=10.0,
    )
    store: TokenStore
    lock: CrossProcessLock
    patch: AbstractContextManager[None] = contextlib.nullcontext()
    if args.keyvault_state:
        from oauth_etl.storage import BlobLeaseLock, make_blob_service_client
        from oauth_etl_tests.oauth.fake_keyvault import (
            VAULT_URL,
            FakeKeyVaultTransport,
            fake_secret_client,
        )

        if args.kill_at in ("mid-save", "after-save"):
            parser.error("mid-save and after-save are file-store steps")
        fake = FakeKeyVaultTransport(state_dir=args.keyvault_state)
        store = KeyVaultTokenStore(VAULT_URL, "xero-token", client=fake_secret_client(fake))
        blobs = make_blob_service_client(
            connection_string=os.environ["AZURE_STORAGE_CONNECTION_STRING"]
        )
        lock = BlobLeaseLock(
            blobs.get_blob_client(args.lease_container, args.lease_blob),
            lease_seconds=args.lease_seconds,
            wait_timeout=3 * args.lease_seconds,
            poll_interval=0.2,
        )
    else:
        file_store = (KillAfterSave if args.kill_at == "after-save" else FileTokenStore)(args.store)
        store, lock = file_store, FileLock(file_store.lock_path, timeout=30)
        if args.kill_at == "mid-save":
            patch = kill_mid_save(file_store)
    asked = kill_after_refresh(endpoint) if args.kill_at == "after-answer" else endpoint
    manager = TokenManager(store, asked, AnnouncedLock(lock), refresh_backoff=0.05)
    # From here on the process only waits for the lock: the lease test times the takeover.
    print(orjson.dumps({"waiting": time.time()}).decode(), flush=True)
    try:
        with patch:
            token = manager.access_token()
    except Exception as exc:  # OAuthError, or the lease lock's StorageError
        name = type(exc).__name__
        print(orjson.dumps({"ok": False, "error": name, "message": str(exc)}).decode())
        return 2 if isinstance(exc, OAuthError) else 4
    print(orjson.dumps({"ok": True, "access": fingerprint_of(token)}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

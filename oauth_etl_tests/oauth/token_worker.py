"""A separate OS process that needs a token: `python -m oauth_etl_tests.oauth.token_worker`.

Used by the multi-process tests (and reusable by reliability tests). It builds a
TokenManager on a file store (or the shared on-disk fake Key Vault) with a file
lock, signals readiness, waits for the go file, calls access_token() once and
prints one JSON line: {"ok": true, "access": <fingerprint>} or
{"ok": false, "error": <class name>, "message": ...}.

--kill-after-refresh: SIGKILL itself after the token endpoint answered and before
the save, like a pod evicted at the worst moment.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import orjson

from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.oauth.locks import CrossProcessLock, FileLock
from oauth_etl.oauth.manager import TokenEndpointLike, TokenManager
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore, TokenStore
from oauth_etl.oauth.tokens import fingerprint_of
from oauth_etl_tests.oauth.answered import OnRefreshAnswer


def kill_after_refresh(endpoint: TokenEndpointLike) -> OnRefreshAnswer:
    """SIGKILL this process once the endpoint has answered a refresh, before any save."""
    return OnRefreshAnswer(endpoint, lambda _payload: os.kill(os.getpid(), signal.SIGKILL))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="identity base URL (the sandbox)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--store", required=True, help="token file, or the lock dir for Key Vault")
    parser.add_argument("--keyvault-state", default=None, help="fake Key Vault state directory")
    parser.add_argument("--ready", default=None, help="touch this file when ready")
    parser.add_argument("--go", default=None, help="wait for this file before asking")
    parser.add_argument("--kill-after-refresh", action="store_true")
    parser.add_argument(
        "--lease",
        default=None,
        metavar="CONNECTION_STRING/CONTAINER",
        help="lock the Key Vault store with a blob lease there (as in production)",
    )
    args = parser.parse_args(argv)

    endpoint = TokenEndpoint(
        f"{args.url}/connect/token",
        f"{args.url}/connect/revocation",
        args.client_id,
        args.client_secret,
        timeout=10.0,
    )
    store: TokenStore
    lock: CrossProcessLock
    if args.keyvault_state:
        from oauth_etl_tests.oauth.fake_keyvault import (
            VAULT_URL,
            FakeKeyVaultTransport,
            fake_secret_client,
        )

        fake = FakeKeyVaultTransport(state_dir=args.keyvault_state)
        store = KeyVaultTokenStore(VAULT_URL, "xero-token", client=fake_secret_client(fake))
        if args.lease:
            from oauth_etl.app.connection import LeaseLock
            from oauth_etl.defs.storage import ConnectionString, LandingStorageResource

            connection_string, _, container = args.lease.rpartition("/")
            storage = LandingStorageResource(
                credential=ConnectionString(connection_string=connection_string),
                container=container,
            )
            lock = LeaseLock(storage.lease_lock("xero-token", wait_timeout=60), 60)
        else:
            lock = FileLock(Path(args.store) / "kv.lock", timeout=30)
    else:
        file_store = FileTokenStore(args.store)
        store, lock = file_store, FileLock(file_store.lock_path, timeout=30)
    asked = kill_after_refresh(endpoint) if args.kill_after_refresh else endpoint
    manager = TokenManager(store, asked, lock, refresh_backoff=0.05)

    if args.ready:
        Path(args.ready).touch()
    if args.go:
        deadline = time.monotonic() + 60
        while not Path(args.go).exists():
            if time.monotonic() > deadline:
                print(orjson.dumps({"ok": False, "error": "NoGo"}).decode())
                return 3
            time.sleep(0.005)
    try:
        token = manager.access_token()
    except OAuthError as exc:
        print(
            orjson.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc)}).decode()
        )
        return 2
    print(orjson.dumps({"ok": True, "access": fingerprint_of(token)}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

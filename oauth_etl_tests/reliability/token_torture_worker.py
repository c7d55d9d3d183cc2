"""One OS process of the token torture.

`python -m oauth_etl_tests.reliability.token_torture_worker ...` loops
`GET /connections` through `httpx.Client(auth=BearerAuth(manager))` on the file
store + FileLock for `--seconds` after the go file appears, then prints one JSON line:

    {"ok": true, "calls": N, "unauthorized": N401, "used": {fingerprint: first_use},
     "refreshes": [[time, fingerprint], ...], "started": t, "ended": t}

`used` holds the access tokens that got a 200 (fingerprints only), `refreshes` every
token endpoint answer this process received (logged by wrapping its token endpoint), so the test
can match the sandbox's grant count against what the workers saw.

A negative `--skew` keeps a cached token for that long past its expiry: the API
answers 401 TokenExpired first and BearerAuth's forced-refresh path runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.oauth.locks import FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl.oauth.tokens import fingerprint_of
from oauth_etl_tests.oauth.answered import OnRefreshAnswer


class RefreshLog:
    """Every token endpoint answer this process got: (time, new access token fingerprint)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    def __call__(self, payload: dict[str, Any]) -> None:
        self.events.append((time.time(), fingerprint_of(payload.get("access_token"))))


def _wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="sandbox base URL (identity and API)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--store", required=True, help="token file")
    parser.add_argument("--skew", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True, help="how long to loop")
    parser.add_argument("--pause", type=float, default=0.02, help="between calls")
    parser.add_argument("--ready", default=None)
    parser.add_argument("--go", default=None)
    args = parser.parse_args(argv)

    endpoint = TokenEndpoint(
        f"{args.url}/connect/token",
        f"{args.url}/connect/revocation",
        args.client_id,
        args.client_secret,
        timeout=10.0,
    )
    store = FileTokenStore(args.store)
    log = RefreshLog()
    manager = TokenManager(
        store,
        OnRefreshAnswer(endpoint, log),
        FileLock(store.lock_path, timeout=30),
        skew_seconds=args.skew,
        refresh_backoff=0.05,
    )
    unauthorized = 0

    def count_401(response: httpx.Response) -> None:
        nonlocal unauthorized
        if response.status_code == 401:
            unauthorized += 1  # also the intermediate 401 BearerAuth answers with a retry

    if args.ready:
        Path(args.ready).touch()
    if args.go and not _wait_for(Path(args.go), 60):
        print(orjson.dumps({"ok": False, "error": "NoGo"}).decode())
        return 3
    started = time.time()
    used: dict[str, float] = {}
    calls = 0
    with httpx.Client(
        base_url=args.url,
        auth=BearerAuth(manager),
        timeout=10.0,
        event_hooks={"response": [count_401]},
    ) as api:
        while time.time() < started + args.seconds:
            try:
                response = api.get("/connections")
            except (OAuthError, httpx.HTTPError) as exc:
                result = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
                print(orjson.dumps(result | {"calls": calls}).decode())
                return 2
            calls += 1
            if response.status_code != 200:
                detail = response.text[:200]
                result = {"ok": False, "error": f"HTTP {response.status_code}", "message": detail}
                print(orjson.dumps(result | {"calls": calls}).decode())
                return 2
            bearer = response.request.headers["authorization"].partition(" ")[2]
            used.setdefault(fingerprint_of(bearer), time.time())
            time.sleep(args.pause)
    result = {
        "ok": True,
        "calls": calls,
        "unauthorized": unauthorized,
        "used": used,
        "refreshes": log.events,
        "started": started,
        "ended": time.time(),
    }
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

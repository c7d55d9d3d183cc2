"""An in-process Azure Key Vault (secrets only) for the real `SecretClient`.

`FakeKeyVaultTransport` is an azure-core `HttpTransport`: the real client, with
its real challenge authentication and retry policy, talks to it as to Key Vault.
It answers like the service: the 401 bearer challenge, secret versions, 404
`SecretNotFound`, 403 `Forbidden`, and injected faults (429 with `Retry-After`,
500, ...). Its `sleep` records the waits the retry policy asks for and only
pretends to wait (bounded by `max_sleep`), so tests stay fast.

With `state_dir`, the vault lives in `state_dir/vault.json` guarded by a file lock,
so several OS processes share one fake vault (each builds its own transport on
the same directory). Faults live in the same state so one process can inject
them into all.

    fake = FakeKeyVaultTransport(state_dir=tmp_path)
    client = fake_secret_client(fake)
    fake.inject(429, methods=("PUT",), count=2, retry_after=3)
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import filelock
import orjson
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import CaseInsensitiveDict
from azure.keyvault.secrets import SecretClient

from oauth_etl.oauth.stores import make_secret_client

VAULT_URL = "https://fake-vault.vault.azure.net"
TENANT = "00000000-0000-0000-0000-000000000000"
CHALLENGE = (
    f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
    'resource="https://vault.azure.net"'
)
FAKE_BEARER = "fake-aad-token"


class FakeCredential:
    """A `TokenCredential` that hands out a fixed AAD token and counts requests."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(FAKE_BEARER, int(time.time()) + 3600)


class _Response(HttpResponseImpl):
    def __init__(self, request: HttpRequest, status: int, body: bytes, headers: dict[str, str]):
        all_headers = CaseInsensitiveDict(
            {"Content-Type": "application/json; charset=utf-8", **headers}
        )
        super().__init__(
            request=request,
            internal_response=None,
            status_code=status,
            reason={
                200: "OK",
                401: "Unauthorized",
                403: "Forbidden",
                404: "Not Found",
                429: "Too Many Requests",
            }.get(status, "Error"),
            content_type=all_headers.get("Content-Type"),
            headers=all_headers,
            stream_download_generator=None,
        )
        self._content = body

    def close(self) -> None:
        self._is_closed = True


def _error(code: str, message: str, inner: str | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return orjson.dumps({"error": error})


class FakeKeyVaultTransport(HttpTransport):  # type: ignore[type-arg]
    def __init__(
        self,
        vault_url: str = VAULT_URL,
        state_dir: str | Path | None = None,
        max_sleep: float = 0.01,
    ) -> None:
        self.vault_url = vault_url.rstrip("/")
        self.max_sleep = max_sleep
        self.sleeps: list[float] = []  # what the retry policy asked to wait
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) in this process
        self._memory: dict[str, Any] = self._empty()
        self._thread_lock = threading.Lock()
        self._path: Path | None = None
        self._file_lock: filelock.FileLock | None = None
        if state_dir is not None:
            directory = Path(state_dir)
            directory.mkdir(parents=True, exist_ok=True)
            self._path = directory / "vault.json"
            self._file_lock = filelock.FileLock(str(directory / "vault.lock"), timeout=30)

    # -- state -----------------------------------------------------------------------------
    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"secrets": {}, "faults": [], "deny": [], "requests": 0}

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        with self._thread_lock:
            if self._path is None or self._file_lock is None:
                yield self._memory
                return
            with self._file_lock:
                state = orjson.loads(self._path.read_bytes()) if self._path.exists() else None
                state = state or self._empty()
                yield state
                tmp = self._path.with_suffix(".tmp")
                tmp.write_bytes(orjson.dumps(state))
                tmp.replace(self._path)

    def inject(
        self,
        status: int,
        *,
        methods: Sequence[str] = ("GET", "PUT"),
        count: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """The next `count` matching requests answer `status` (e.g. 429, 500, 503)."""
        with self._state() as state:
            state["faults"].append(
                {
                    "status": status,
                    "methods": list(methods),
                    "count": count,
                    "retry_after": retry_after,
                }
            )

    def deny(self, *methods: str) -> None:
        """Answer 403 Forbidden to these methods (GET, PUT) from now on: a missing permission."""
        with self._state() as state:
            state["deny"] = list(methods)

    def versions(self, name: str) -> int:
        with self._state() as state:
            return len(state["secrets"].get(name, []))

    def value(self, name: str) -> str | None:
        with self._state() as state:
            versions = state["secrets"].get(name)
            return versions[-1]["value"] if versions else None

    def put_value(self, name: str, value: str, content_type: str | None = None) -> None:
        """Write a version directly (as another tool or a person would)."""
        with self._state() as state:
            self._add_version(state, name, value, content_type)

    def request_count(self) -> int:
        with self._state() as state:
            return int(state["requests"])

    # -- HttpTransport -----------------------------------------------------------------------
    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __exit__(self, *args: object) -> None:
        pass

    def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)
        time.sleep(min(duration, self.max_sleep))

    def send(self, request: HttpRequest, **kwargs: Any) -> _Response:
        status, body, headers = self._answer(request)
        self.log.append((request.method, urlsplit(request.url).path, status))
        return _Response(request, status, body, headers)

    def _answer(self, request: HttpRequest) -> tuple[int, bytes, dict[str, str]]:
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" != self.vault_url:
            raise AssertionError(f"request to {url.netloc}, not the fake vault")
        auth = request.headers.get("Authorization")
        if auth is None:
            return 401, b"", {"WWW-Authenticate": CHALLENGE}
        if auth != f"Bearer {FAKE_BEARER}":
            return (
                401,
                _error("Unauthorized", "AKV10032: Invalid issuer."),
                {"WWW-Authenticate": CHALLENGE},
            )
        parts = [p for p in url.path.split("/") if p]
        method = request.method.upper()
        with self._state() as state:
            state["requests"] += 1
            for fault in state["faults"]:
                if method in fault["methods"] and fault["count"] > 0:
                    fault["count"] -= 1
                    headers = {}
                    if fault["retry_after"] is not None:
                        headers["Retry-After"] = str(fault["retry_after"])
                    code = "Throttled" if fault["status"] == 429 else "InternalServerError"
                    return fault["status"], _error(code, "injected fault"), headers
            if len(parts) < 2 or parts[0] != "secrets":
                return 400, _error("BadParameter", "unsupported path"), {}
            name = parts[1]
            if method in state["deny"]:
                op = {"GET": "get", "PUT": "set"}.get(method, method.lower())
                return (
                    403,
                    _error(
                        "Forbidden",
                        f"The user, group or application 'appid=test' does not have secrets {op} "
                        f"permission on key vault 'fake-vault'.",
                        "AccessDenied",
                    ),
                    {},
                )
            if method == "PUT" and len(parts) == 2:
                payload = orjson.loads(_content(request))
                bundle = self._add_version(
                    state, name, payload["value"], payload.get("contentType")
                )
                return 200, orjson.dumps(bundle), {}
            if method == "GET":
                if len(parts) == 3 and parts[2] == "versions":
                    items = [
                        {k: v for k, v in b.items() if k != "value"}
                        for b in state["secrets"].get(name, [])
                    ]
                    return 200, orjson.dumps({"value": items, "nextLink": None}), {}
                versions = state["secrets"].get(name, [])
                version = parts[2] if len(parts) > 2 else ""
                found = [b for b in versions if not version or b["id"].endswith("/" + version)]
                if found:
                    return 200, orjson.dumps(found[-1]), {}
                return (
                    404,
                    _error(
                        "SecretNotFound",
                        f"A secret with (name/id) {name} was not found in this key vault.",
                    ),
                    {},
                )
        return 405, _error("BadParameter", "method not supported"), {}

    def _add_version(
        self, state: dict[str, Any], name: str, value: str, content_type: str | None
    ) -> dict[str, Any]:
        now = int(time.time())
        bundle = {
            "value": value,
            "id": f"{self.vault_url}/secrets/{name}/{uuid.uuid4().hex}",
            "attributes": {
                "enabled": True,
                "created": now,
                "updated": now,
                "recoveryLevel": "Recoverable+Purgeable",
            },
        }
        if content_type is not None:
            bundle["contentType"] = content_type
        state["secrets"].setdefault(name, []).append(bundle)
        return bundle


def _content(request: HttpRequest) -> bytes:
    body = request.content
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    raise AssertionError(f"unexpected request body type {type(body).__name__}")


def fake_secret_client(
    fake: FakeKeyVaultTransport, retry_total: int = 4, **kwargs: Any
) -> SecretClient:
    """The real SecretClient (as the store builds it) wired to the fake vault; tiny backoff."""
    return make_secret_client(
        fake.vault_url,
        FakeCredential(),
        transport=fake,
        retry_total=retry_total,
        retry_backoff_factor=0.001,
        retry_backoff_max=0.01,
        **kwargs,
    )

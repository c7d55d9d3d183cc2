"""An in-memory token endpoint for httpx.MockTransport: rotating refresh tokens, scripted faults."""

from __future__ import annotations

import base64
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import orjson

TOKEN_URL = "https://identity.test/connect/token"
REVOCATION_URL = "https://identity.test/connect/revocation"
CLIENT_ID = "client-abc"
CLIENT_SECRET = "s3cr3t-client-secret-value"

Scripted = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeTokenServer:
    """Single-use refresh tokens with a grace period for the previous one."""

    now: Callable[[], float]
    access_ttl: int = 1800
    grace: float = 1800.0
    client_secret: str | None = CLIENT_SECRET
    valid: dict[str, float] = field(default_factory=dict)  # refresh token → used_at (0 = unused)
    grants: dict[str, int] = field(default_factory=dict)
    invalid_grants: int = 0
    script: list[Scripted] = field(default_factory=list)  # answers to use first, in order
    requests: list[dict[str, str]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    lost_answers: int = 0  # perform this many grants, then lose their answers (read timeout)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_refresh_token(self) -> str:
        token = f"rt-{next(self._counter):04d}-{'x' * 24}"
        self.valid[token] = 0.0
        return token

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _check_client(self, request: httpx.Request, form: dict[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        if self.client_secret is None:
            return form.get("client_id") == CLIENT_ID and not header
        expected = base64.b64encode(f"{CLIENT_ID}:{self.client_secret}".encode()).decode()
        return bool(header == f"Basic {expected}")

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = self._handle(request)
        if self.lost_answers > 0 and response.status_code == 200:
            self.lost_answers -= 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.requests.append(form)
            if self.script:
                return self.script.pop(0)(request)
            if request.url.path.endswith("/revocation"):
                self.revoked.append(form.get("token", ""))
                self.valid.pop(form.get("token", ""), None)
                return httpx.Response(200)
            if not self._check_client(request, form):
                return httpx.Response(400, json={"error": "invalid_client"})
            grant = form.get("grant_type", "")
            self.grants[grant] = self.grants.get(grant, 0) + 1
            if grant == "refresh_token":
                token = form.get("refresh_token", "")
                used_at = self.valid.get(token)
                if used_at is None or (used_at and self.now() - used_at > self.grace):
                    self.invalid_grants += 1
                    return httpx.Response(400, json={"error": "invalid_grant"})
                if not used_at:
                    self.valid[token] = self.now()
                return self._tokens(refresh=True)
            if grant == "authorization_code":
                if form.get("code") != "good-code":
                    self.invalid_grants += 1
                    return httpx.Response(400, json={"error": "invalid_grant"})
                return self._tokens(refresh=True)
            if grant == "client_credentials":
                return self._tokens(refresh=False)
            return httpx.Response(400, json={"error": "unsupported_grant_type"})

    def _tokens(self, refresh: bool) -> httpx.Response:
        body: dict[str, object] = {
            "access_token": f"at-{next(self._counter):04d}-{'y' * 30}",
            "expires_in": self.access_ttl,
            "token_type": "Bearer",
            "scope": "offline_access accounting.invoices.read",
        }
        if refresh:
            body["refresh_token"] = self.issue_refresh_token()
        return httpx.Response(200, content=orjson.dumps(body))


def respond(status: int, body: bytes | str = b"", **headers: str) -> Scripted:
    content = body.encode() if isinstance(body, str) else body
    return lambda request: httpx.Response(status, content=content, headers=headers)


def raise_error(exc_type: type[httpx.TransportError]) -> Scripted:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return fail

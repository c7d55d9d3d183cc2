"""Sandbox test helpers: an in-process server factory and a small Xero client over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from oauth_etl_dev.sandbox import SandboxConfig, SandboxServer

CLIENT_ID = "sandbox-test-client"
CLIENT_SECRET = "sandbox-test-secret"
REDIRECT = "http://127.0.0.1:8765/callback"
READ_ALL = (
    "openid profile email offline_access accounting.transactions.read accounting.contacts.read "
    "accounting.settings.read accounting.journals.read accounting.budgets.read"
)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Xero:
    """Speaks to one sandbox as an app would (and to its admin API)."""

    url: str
    client_id: str = CLIENT_ID
    client_secret: str | None = CLIENT_SECRET
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    # identity
    def authorize(
        self, scope: str = READ_ALL, challenge: str | None = None, **extra: str
    ) -> httpx.Response:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st-1",
            **extra,
        }
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        return self.http.get("/identity/connect/authorize", params=params)

    def code(self, scope: str = READ_ALL, challenge: str | None = None) -> str:
        response = self.authorize(scope, challenge)
        assert response.status_code == 302, response.text
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["state"] == ["st-1"]
        return query["code"][0]

    def token(self, form: dict[str, str], basic: bool = True) -> httpx.Response:
        form = dict(form)
        if self.client_secret is not None and basic:
            return self.http.post(
                "/connect/token", data=form, auth=(self.client_id, self.client_secret)
            )
        form["client_id"] = self.client_id
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret
        return self.http.post("/connect/token", data=form)

    def exchange(
        self, code: str, verifier: str | None = None, basic: bool = True
    ) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        if verifier:
            form["code_verifier"] = verifier
        return self.token(form, basic)

    def login(self, scope: str = READ_ALL) -> dict[str, Any]:
        if self.client_secret is None:
            verifier, challenge = pkce_pair()
            response = self.exchange(self.code(scope, challenge), verifier)
        else:
            response = self.exchange(self.code(scope))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def refresh(self, refresh_token: str, basic: bool = True) -> httpx.Response:
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token}, basic)

    # API
    def tenants(self, access_token: str) -> list[str]:
        response = self.http.get(
            "/connections", headers={"Authorization": f"Bearer {access_token}"}
        )
        assert response.status_code == 200, response.text
        return [c["tenantId"] for c in response.json()]

    def api(
        self,
        endpoint: str,
        access_token: str,
        tenant: str | None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {access_token}", **(headers or {})}
        if tenant is not None:
            all_headers["xero-tenant-id"] = tenant
        return self.http.get(f"/api.xro/2.0/{endpoint}", params=params, headers=all_headers)

    # admin
    def admin(self, path: str, payload: Any = None) -> Any:
        response = self.http.post(f"/_sandbox/{path}", json=payload if payload is not None else {})
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get("/_sandbox/stats").json())

    def records(self, tenant: str, endpoint: str) -> list[dict[str, Any]]:
        response = self.http.get(
            "/_sandbox/records", params={"tenant_id": tenant, "endpoint": endpoint}
        )
        assert response.status_code == 200, response.text
        return list(response.json())


XeroFactory = Callable[..., Xero]


@pytest.fixture
def xero_factory() -> Iterator[XeroFactory]:
    """Start in-process sandboxes: `xero_factory(records=10, client_secret=None, ...)`."""
    servers: list[tuple[SandboxServer, Xero]] = []

    def make(**overrides: Any) -> Xero:
        settings: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "records": 50,
            "tenants": 2,
            "limits": False,
            **overrides,
        }
        server = SandboxServer(SandboxConfig(**settings))
        xero = Xero(server.start(), settings["client_id"], settings["client_secret"])
        servers.append((server, xero))
        return xero

    try:
        yield make
    finally:
        for server, xero in servers:
            xero.close()
            server.stop()


@pytest.fixture
def xero(xero_factory: XeroFactory) -> Xero:
    return xero_factory()

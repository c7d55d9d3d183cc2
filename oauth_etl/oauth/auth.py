"""httpx authentication: the bearer token on every request, one refresh on an expired token."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator
from enum import Enum
from typing import Protocol

import anyio.to_thread
import httpx
import orjson

from oauth_etl.oauth.tokens import TokenSet

logger = logging.getLogger(__name__)


class AccessTokenSource(Protocol):
    def access_token(self) -> str: ...
    def refresh(self, force: bool = True, stale_access_token: str | None = None) -> TokenSet: ...


class Unauthorized(Enum):
    """What a 401 means, decided in one place for the auth layer and the API client."""

    TOKEN = "token"  # noqa: S105 (a kind, not a secret): expired or invalid access token: a refresh can fix it
    NOT_ENTITLED = "not_entitled"  # missing scope, Journals tier: a refresh will not help
    UNKNOWN = "unknown"  # neither said: do not refresh, report both possibilities


def classify_401(detail: str, challenge: str) -> Unauthorized:
    """Classify a 401 from its `Detail` and its `WWW-Authenticate` header.

    An expired token carries `Bearer error=invalid_token` (RFC 6750 §3.1) and Xero's
    `TokenExpired: ...` (developer.xero.com/documentation/guides/oauth2/troubleshooting);
    `TokenInvalid` is the same family;
    `AuthorizationUnsuccessful` is an entitlement problem (scope, tier).
    """
    text = detail.strip()
    if "AuthorizationUnsuccessful" in text:
        return Unauthorized.NOT_ENTITLED
    if "TokenExpired" in text or "TokenInvalid" in text:
        return Unauthorized.TOKEN
    if "invalid_token" in challenge.lower():
        return Unauthorized.TOKEN
    return Unauthorized.UNKNOWN


def is_expired_token_response(response: httpx.Response) -> bool:
    """A 401 that a new access token can fix (not a missing scope or entitlement)."""
    if response.status_code != 401:
        return False
    challenge = response.headers.get("www-authenticate", "")
    return classify_401(_detail(response), challenge) is Unauthorized.TOKEN


def _detail(response: httpx.Response) -> str:
    try:
        payload = orjson.loads(response.content)
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return ""
    if isinstance(payload, dict):
        detail = payload.get("Detail") or payload.get("detail")
        if isinstance(detail, str):
            return detail.strip()
    return ""


class BearerAuth(httpx.Auth):
    """Thread-safe (no per-request state on the instance); one retry, never a loop."""

    def __init__(self, manager: AccessTokenSource) -> None:
        self._manager = manager

    def __repr__(self) -> str:
        return "BearerAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._manager.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if not is_expired_token_response(response):
            return
        logger.info("API answered 401 invalid/expired token: one forced refresh and one retry")
        fresh = self._manager.refresh(force=True, stale_access_token=token)
        if fresh.access_token is None:
            return
        request.headers["Authorization"] = f"Bearer {fresh.access_token}"
        yield request  # the answer goes to the caller whatever it is

    # Read a body only for 401s (to see `Detail`): other answers keep streaming.
    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.status_code == 401:
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                break

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # The manager is synchronous (file, lock and vault I/O, a token refresh over
        # HTTP): it runs in a worker thread so the event loop keeps serving others.
        token = await anyio.to_thread.run_sync(self._manager.access_token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        if not is_expired_token_response(response):
            return
        logger.info("API answered 401 invalid/expired token: one forced refresh and one retry")
        fresh = await anyio.to_thread.run_sync(
            lambda: self._manager.refresh(force=True, stale_access_token=token)
        )
        if fresh.access_token is None:
            return
        request.headers["Authorization"] = f"Bearer {fresh.access_token}"
        yield request

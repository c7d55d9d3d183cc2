"""httpx authentication: the bearer token on every request, one refresh on an expired token."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator
from typing import Protocol

import httpx
import orjson

from oauth_etl.oauth.tokens import TokenSet

logger = logging.getLogger(__name__)


class AccessTokenSource(Protocol):
    def access_token(self) -> str: ...
    def refresh(self, force: bool = True, stale_access_token: str | None = None) -> TokenSet: ...


def is_expired_token_response(response: httpx.Response) -> bool:
    """A 401 that a new access token can fix (not a missing scope or entitlement)."""
    if response.status_code != 401:
        return False
    detail = _detail(response)
    if detail.startswith("AuthorizationUnsuccessful"):
        return False  # not entitled (scope, Journals tier): a new token will not help
    if detail.startswith(("TokenExpired", "TokenInvalid")):
        return True
    challenge = response.headers.get("www-authenticate", "")
    return "invalid_token" in challenge.lower()


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
        # The manager is synchronous (file/vault I/O); async clients call it inline.
        flow = self.auth_flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.status_code == 401:
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                break

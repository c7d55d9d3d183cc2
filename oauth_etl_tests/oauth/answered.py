"""A token endpoint that reports each refresh answer before the manager sees it.

The crash and torture workers use it to act at the one moment that matters: the token
endpoint has rotated the refresh token and answered, and nothing is saved yet. Wrapping
the endpoint keeps that seam in the tests, not in the runtime package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oauth_etl.oauth.manager import TokenEndpointLike


class OnRefreshAnswer:
    """`inner`, with `callback(payload)` called after each refresh answer arrives."""

    def __init__(self, inner: TokenEndpointLike, callback: Callable[[dict[str, Any]], None]):
        self.inner = inner
        self.callback = callback

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        payload = self.inner.refresh(refresh_token)
        self.callback(payload)
        return payload

    def client_credentials(self, scope: str = "") -> dict[str, Any]:
        return self.inner.client_credentials(scope)

    def revoke(self, refresh_token: str) -> None:
        self.inner.revoke(refresh_token)

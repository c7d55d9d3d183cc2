"""The OAuth 2.0 token endpoint: one form POST per grant, answers mapped to typed errors.

Basic auth when the client has a secret (as Xero's own tools send it: a source, not a
default); the client
id in the body for a public PKCE client. No retries here: the manager decides,
because only it knows whether re-sending a refresh token is safe.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson

from oauth_etl.oauth.closing import Closing
from oauth_etl.oauth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    TokenEndpointError,
    TokenEndpointUnreachable,
    TokenRequestRejected,
)
from oauth_etl.oauth.provider import NEUTRAL, Provider
from oauth_etl.oauth.tokens import fingerprint_of

logger = logging.getLogger(__name__)

# Connection never established: the server cannot have acted on the request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class TokenEndpoint(Closing):
    def __init__(
        self,
        token_url: str,
        revocation_url: str | None,
        client_id: str,
        client_secret: str | None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        provider: Provider = NEUTRAL,
    ) -> None:
        self.provider = provider
        if not client_id:
            raise ValueError(f"client_id is empty: set {provider.client_id_setting}")
        self.token_url = token_url
        self.revocation_url = revocation_url
        self.client_id = client_id
        self._client_secret = client_secret or None
        auth = httpx.BasicAuth(client_id, self._client_secret) if self._client_secret else None
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout), transport=transport, auth=auth, follow_redirects=False
        )

    def __repr__(self) -> str:
        kind = "confidential" if self._client_secret else "public (PKCE)"
        return f"TokenEndpoint({self.token_url!r}, client_id={self.client_id!r}, {kind})"

    @property
    def is_public_client(self) -> bool:
        return self._client_secret is None

    def close(self) -> None:
        self._http.close()

    # -- grants ------------------------------------------------------------------
    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Trade a refresh token for a new token set payload (the refresh token rotates)."""
        logger.debug("refresh_token grant with refresh token %s", fingerprint_of(refresh_token))
        return self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._grant(form)

    def client_credentials(self, scope: str = "") -> dict[str, Any]:
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        return self._grant(form, scope=scope)

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and the grant behind it)."""
        if not self.revocation_url:
            raise ValueError("no revocation URL configured")
        form = self._with_client_id({"token": refresh_token, "token_type_hint": "refresh_token"})
        response = self._post(self.revocation_url, form)
        if response.status_code == 200:
            return
        self._raise_for_error(response, scope="")

    # -- plumbing ----------------------------------------------------------------
    def _with_client_id(self, form: dict[str, str]) -> dict[str, str]:
        if self._client_secret is None:
            form = {**form, "client_id": self.client_id}
        return form

    def _post(self, url: str, form: dict[str, str]) -> httpx.Response:
        try:
            return self._http.post(url, data=form, headers={"Accept": "application/json"})
        except _NOT_SENT as exc:
            raise TokenEndpointUnreachable(
                url, type(exc).__name__, request_sent=False, setting=self._url_setting
            ) from None
        except httpx.TransportError as exc:
            # Read timeout, reset, truncated answer: the server may have rotated the token.
            raise TokenEndpointUnreachable(
                url, type(exc).__name__, request_sent=True, setting=self._url_setting
            ) from None

    @property
    def _url_setting(self) -> str:
        return self.provider.identity_url_setting

    def _grant(self, form: dict[str, str], scope: str = "") -> dict[str, Any]:
        response = self._post(self.token_url, self._with_client_id(form))
        if response.status_code == 200:
            return self._json_object(response)
        self._raise_for_error(response, scope)
        raise AssertionError("unreachable")  # pragma: no cover

    def _json_object(self, response: httpx.Response) -> dict[str, Any]:
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise TokenEndpointError(
                "answer is not JSON", response.status_code, response.content, self._url_setting
            ) from None
        if not isinstance(payload, dict):
            raise TokenEndpointError(
                "answer is not a JSON object",
                response.status_code,
                response.content,
                self._url_setting,
            )
        return payload

    def _raise_for_error(self, response: httpx.Response, scope: str) -> None:
        status = response.status_code
        header = self.provider.correlation_header
        correlation = response.headers.get(header) if header else None
        if correlation:
            logger.warning("token endpoint HTTP %s, %s %s", status, header, correlation)
        error, description = "", ""
        if status in (400, 401):
            try:
                payload = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                payload = None
            if isinstance(payload, dict):
                error = str(payload.get("error") or "")
                description = str(payload.get("error_description") or "")
        if error == "invalid_grant":
            raise InvalidGrant(description)
        if error in ("invalid_client", "unauthorized_client"):
            raise InvalidClient(self.client_id, error, description, self._client_settings)
        if error == "invalid_scope":
            raise InvalidScope(scope, description, self.provider.scope_advice)
        if error in ("unsupported_grant_type", "invalid_request"):
            raise TokenRequestRejected(error, description)
        if status == 401:
            raise InvalidClient(self.client_id, "HTTP 401", settings=self._client_settings)
        message = f"unexpected error {error!r}" if error else "unexpected answer"
        raise TokenEndpointError(message, status, response.content, self._url_setting)

    @property
    def _client_settings(self) -> str:
        return f"{self.provider.client_id_setting} / {self.provider.client_secret_setting}"

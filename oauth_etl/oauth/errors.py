"""The exception hierarchy of the token lifecycle.

Every message says what happened and what to do. No message ever contains a
token or a client secret: callers pass fingerprints, URLs and field names only,
and anything quoted from a server goes through `sanitize` first.
"""

from __future__ import annotations

import re
from pathlib import Path

AUTHORIZE_HINT = "run `oauth-etl authorize`"

# Long runs of token alphabet (JWTs, opaque tokens, base64 secrets) are replaced before
# any server text is quoted. Dotted lowercase names (scopes) stay readable.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-+/=.~]{16,}")
_WORDLIKE = re.compile(r"^(?=.{16,47}$)[a-z_]+(\.[a-z_]+)+$")  # scope names
_SECRET_FIELD = re.compile(
    r'("?(?:access_token|refresh_token|id_token|client_secret|code|token)"?\s*[:=]\s*)"?[^",&\s}]*',
    re.IGNORECASE,
)


def sanitize(text: str, limit: int = 80) -> str:
    """Server text safe to quote: token-like runs redacted first, then truncated."""
    cleaned = _SECRET_FIELD.sub(r"\1[redacted]", text)
    cleaned = _TOKEN_LIKE.sub(
        lambda m: m.group(0) if _WORDLIKE.match(m.group(0)) else "[redacted]", cleaned
    )
    cleaned = " ".join(cleaned.split())  # one line, no control characters
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in cleaned)
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + "…"
    return cleaned


def clip(value: str, limit: int = 60) -> str:
    """A value the user gave, as an error quotes it: the start of a 10,000-character one
    (and never the whole of a token pasted where a path belongs)."""
    return value if len(value) <= limit else value[:limit] + "…"


class OAuthError(Exception):
    """Base of every error raised by oauth_etl.oauth."""


class AuthorizationRequired(OAuthError):
    """No usable refresh token: a person has to authorize the app again."""

    def __init__(self, reason: str, hint: str = AUTHORIZE_HINT) -> None:
        super().__init__(f"authorization required: {reason}; {hint}")
        self.reason = reason


class TenantNotAuthorized(AuthorizationRequired):
    """No token set of the deployment sees the tenant (several sets: oauth.sets)."""

    def __init__(self, tenant_id: str, reason: str, hint: str) -> None:
        super().__init__(f"no token set sees tenant {tenant_id} ({reason})", hint)
        self.tenant_id = tenant_id


class InvalidGrant(OAuthError):
    """The token endpoint answered `invalid_grant` (used, expired or revoked grant).

    The manager turns this into `AuthorizationRequired` once re-reading the store
    and the grace-period retry cannot help.
    """

    def __init__(self, description: str = "") -> None:
        detail = f" ({sanitize(description)})" if description else ""
        super().__init__(
            "the token endpoint rejected the grant (invalid_grant): the refresh token or "
            f"code is expired, revoked or already used{detail}"
        )


class InvalidClient(OAuthError):
    """The token endpoint does not accept the client credentials."""

    def __init__(
        self,
        client_id: str,
        error: str = "invalid_client",
        description: str = "",
        settings: str = "the client id and client secret settings",
    ) -> None:
        detail = f" ({sanitize(description)})" if description else ""
        super().__init__(
            f"the token endpoint rejected client {client_id!r} ({error}){detail}: check the "
            f"client id and client secret ({settings}) and that the app is allowed this "
            "grant type"
        )
        self.client_id = client_id


class InvalidScope(OAuthError):
    """The scopes asked for are not allowed for this app."""

    def __init__(self, requested: str, description: str = "", advice: str = "") -> None:
        self.requested = requested
        parts = [f"the token endpoint rejected the scopes asked for ({requested or 'none given'})"]
        if description:
            parts.append(f"; server says: {sanitize(description, 200)}")
        parts.append(f": {advice or 'ask only for scopes enabled for the app'}")
        super().__init__("".join(parts))


class TokenRequestRejected(OAuthError):
    """The token endpoint says our request is malformed: a bug on our side."""

    def __init__(self, error: str, description: str = "") -> None:
        field_hint = {
            "unsupported_grant_type": "the grant_type field",
            "invalid_request": "a missing or malformed form field",
        }.get(error, "the request")
        detail = f": {sanitize(description)}" if description else ""
        super().__init__(
            f"the token endpoint rejected {field_hint} ({error}){detail}; "
            "this is a bug, please report it"
        )
        self.error = error


class TokenEndpointError(OAuthError):
    """The token endpoint gave an answer we cannot use (5xx, HTML, bad JSON, bad fields)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        body: bytes | str = b"",
        setting: str = "the token endpoint URL setting",
    ) -> None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        shown = f"; body starts: {sanitize(text)!r}" if text.strip() else ""
        status_text = f"HTTP {status}: " if status is not None else ""
        super().__init__(
            f"token endpoint: {status_text}{message}{shown}. The stored token set was not "
            f"changed: try again later, and if it persists check {setting}"
        )
        self.status = status
        # Only what the message shows is kept: a body may echo a token back.
        self._parts = (message, status, sanitize(text) if text.strip() else "")

    def for_setting(self, setting: str) -> TokenEndpointError:
        """The same error naming `setting` (raised where the provider was not known)."""
        message, status, body = self._parts
        return TokenEndpointError(message, status, body, setting)

    @property
    def retryable(self) -> bool:
        """A server-side failure that may go away (the grace period covers a re-send)."""
        return self.status is not None and (self.status >= 500 or self.status == 429)


class TokenEndpointUnreachable(OAuthError):
    """Timeout or connection failure talking to the token endpoint."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        request_sent: bool,
        setting: str = "the token endpoint URL setting",
    ) -> None:
        lost = " (the request may have been performed and its answer lost)" if request_sent else ""
        super().__init__(
            f"token endpoint {url} unreachable: {reason}{lost}; check the network and {setting}"
        )
        self.url = url
        self.request_sent = request_sent


class TokenStoreError(OAuthError):
    """The token store cannot be read or written."""


class NotATokenSet(TokenStoreError):
    """A store or a rescue copy holds something that is not a token set (corrupt, or
    another file); `with_fix` gives the remedy that fits where it was found."""

    DEFAULT_FIX = (
        "it was left untouched: restore a rescue copy (`oauth-etl token restore LOCATION`) "
        "if one exists, or run `oauth-etl authorize`"
    )

    def __init__(self, source: str, problem: str, fix: str = DEFAULT_FIX) -> None:
        super().__init__(f"{source} is not a token set ({problem}): {fix}")
        self.source = source
        self.problem = problem

    def with_fix(self, fix: str) -> NotATokenSet:
        return NotATokenSet(self.source, self.problem, fix)


class TokenSaveFailed(TokenStoreError):
    """A rotated token set could not be saved; it was kept as a rescue copy."""

    def __init__(self, store: str, cause: str, rescue_path: Path | str | None) -> None:
        if rescue_path is not None:
            where = (
                f"the new token set was kept in the rescue copy {rescue_path} (readable only "
                f"by this identity); restore it once the store works: "
                f"`oauth-etl token restore {rescue_path}`"
            )
        else:
            where = (
                "writing a rescue copy failed too, so the rotated refresh token is lost; "
                f"{AUTHORIZE_HINT}"
            )
        super().__init__(f"could not save the refreshed token set to {store}: {cause}; {where}")
        self.rescue_path = rescue_path


class LockTimeout(OAuthError):
    """The cross-process lock was not obtained in time."""

    def __init__(self, lock: str, timeout: float) -> None:
        super().__init__(
            f"could not take the lock {lock} within {timeout:g} s: another process is "
            "refreshing the token or died holding it; try again, and if it persists check "
            "for stuck oauth-etl processes"
        )
        self.lock = lock


class AuthorizationFailed(OAuthError):
    """The interactive authorization did not produce a code."""

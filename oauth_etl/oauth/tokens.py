"""The token set: one immutable value holding access and refresh token together.

Stored whole as one JSON document so the two tokens can never disagree.
`repr` and `str` show fingerprints only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from oauth_etl.oauth.errors import NotATokenSet, TokenEndpointError, sanitize

FORMAT_VERSION = 1
MAX_EXPIRES_IN = 366 * 24 * 3600  # beyond a year, `expires_in` is garbage, not a lifetime


def fingerprint_of(value: str | None) -> str:
    """A short, stable, non-reversible label for a token (safe for logs)."""
    if not value:
        return "none"
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float
    scope: str
    token_type: str
    obtained_at: float
    refresh_token_issued_at: float | None
    revoked_at: float | None = None  # set by `revoke`: the set is kept to say so, tokenless

    def __repr__(self) -> str:
        return (
            f"TokenSet(access={fingerprint_of(self.access_token)}, "
            f"refresh={fingerprint_of(self.refresh_token)}, expires_at={self.expires_at:.0f}, "
            f"scope={self.scope!r}, token_type={self.token_type!r}, "
            f"obtained_at={self.obtained_at:.0f}"
            + (f", revoked_at={self.revoked_at:.0f})" if self.revoked_at is not None else ")")
        )

    __str__ = __repr__

    # -- queries -----------------------------------------------------------------
    def access_valid(self, now: float, skew: float = 0.0) -> bool:
        """True when the access token exists and lives beyond `now + skew`."""
        return self.access_token is not None and self.expires_at - skew > now

    def revoked(self) -> bool:
        """Revoked by `revoke` (when known), or holding no token at all (revoked before the
        time was recorded, or never usable)."""
        return self.revoked_at is not None or (
            self.access_token is None and self.refresh_token is None
        )

    def refresh_token_age(self, now: float) -> float | None:
        """Seconds since the refresh token was issued (None when unknown)."""
        if self.refresh_token is None or self.refresh_token_issued_at is None:
            return None
        return max(0.0, now - self.refresh_token_issued_at)

    def fingerprint(self) -> str:
        """Short hash of both tokens: equal fingerprints mean the same token set."""
        joined = f"{self.access_token or ''}\x00{self.refresh_token or ''}"
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:12]

    # -- serialisation -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": self.scope,
            "token_type": self.token_type,
            "obtained_at": self.obtained_at,
            "refresh_token_issued_at": self.refresh_token_issued_at,
            "revoked_at": self.revoked_at,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes | str, source: str = "token store") -> TokenSet:
        """Parse a stored token set; any defect → TokenStoreError naming `source`."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise NotATokenSet(source, "not JSON: corrupt, truncated or another file") from None
        if not isinstance(raw, dict):
            raise NotATokenSet(source, "JSON, but not an object")
        try:
            return cls(
                access_token=_opt_str(raw, "access_token"),
                refresh_token=_opt_str(raw, "refresh_token"),
                expires_at=_number(raw, "expires_at"),
                scope=_str(raw, "scope", ""),
                token_type=_str(raw, "token_type", "Bearer"),
                obtained_at=_number(raw, "obtained_at"),
                refresh_token_issued_at=_opt_number(raw, "refresh_token_issued_at"),
                revoked_at=_opt_number(raw, "revoked_at"),
            )
        except (TypeError, ValueError) as exc:
            raise NotATokenSet(source, f"JSON of another shape: {exc}") from None

    @classmethod
    def from_token_response(
        cls, payload: Mapping[str, Any], now: float, previous: TokenSet | None = None
    ) -> TokenSet:
        """Build a token set from a token endpoint answer, checking every field's type.

        A response without a refresh token keeps the previous one (RFC 6749 §6).
        """
        try:
            access_token = payload["access_token"]
            expires_in = payload["expires_in"]
        except KeyError as exc:
            raise TokenEndpointError(f"token response lacks the field {exc.args[0]!r}") from None
        if not isinstance(access_token, str) or not access_token:
            raise TokenEndpointError("token response field 'access_token' is not a string")
        try:
            if isinstance(expires_in, str) and expires_in.strip().isdecimal():
                expires_in = int(expires_in)
            valid = (
                not isinstance(expires_in, bool)
                and isinstance(expires_in, int | float)
                and math.isfinite(expires_in)
                and 0 < expires_in <= MAX_EXPIRES_IN
            )
        except (ValueError, OverflowError):
            valid = False
        if not valid:
            raise TokenEndpointError(
                "token response field 'expires_in' is not a positive number of seconds"
            )
        refresh_token = payload.get("refresh_token")
        if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
            raise TokenEndpointError("token response field 'refresh_token' is not a string")
        for name in ("scope", "token_type"):
            if payload.get(name) is not None and not isinstance(payload.get(name), str):
                raise TokenEndpointError(f"token response field {name!r} is not a string")
        token_type = payload.get("token_type") or "Bearer"
        if token_type.lower() != "bearer":
            raise TokenEndpointError(
                f"token type {sanitize(token_type)!r} is not supported (Bearer only)"
            )
        if refresh_token is not None:
            issued_at: float | None = now
        elif previous is not None:
            refresh_token = previous.refresh_token
            issued_at = previous.refresh_token_issued_at
        else:
            issued_at = None
        scope = payload.get("scope") or (previous.scope if previous is not None else "")
        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=now + float(expires_in),
            scope=scope,
            token_type=token_type,
            obtained_at=now,
            refresh_token_issued_at=issued_at,
        )


def _opt_str(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"field {name!r} is not a string")
    return value


def _str(raw: Mapping[str, Any], name: str, default: str) -> str:
    value = _opt_str(raw, name)
    return default if value is None else value


def _number(raw: Mapping[str, Any], name: str) -> float:
    if name not in raw:
        raise ValueError(f"field {name!r} is missing")
    value = raw[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"field {name!r} is not a number")
    return float(value)


def _opt_number(raw: Mapping[str, Any], name: str) -> float | None:
    return None if raw.get(name) is None else _number(raw, name)

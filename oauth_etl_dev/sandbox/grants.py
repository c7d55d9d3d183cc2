"""The identity service's records and rules as data: scopes an app may have, grants,
codes, refresh-token chains, PKCE and redirect-URI checks (used by identity.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from oauth_etl_dev.sandbox.catalog import ALL_SCOPES
from oauth_etl_dev.sandbox.report_scopes import BROAD, REPORT_SCOPES

VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

# The scopes an app created from 2 March 2026 may request: granular ones only (no
# accounting.transactions, no accounting.reports.read), no accounting.journals.read (Advanced
# tier) and no accounting.classicexpenses (developer.xero.com/faq/granular-scopes;
# apideck.com/blog/xero-scopes; Xero's pricing pages for the Advanced tier).
NEW_APP_SCOPES: frozenset[str] = frozenset(
    {
        "offline_access",
        "openid",
        "profile",
        "email",
        "accounting.budgets.read",
        *(REPORT_SCOPES - {BROAD}),  # granular report scopes (sandbox/report_scopes.py)
        *(
            f"accounting.{family}{suffix}"
            for family in (
                "invoices",
                "payments",
                "banktransactions",
                "manualjournals",
                "contacts",
                "settings",
                "attachments",
            )
            for suffix in ("", ".read")
        ),
    }
)
# `--scopes` presets: a new app (above) or every scope the sandbox knows (an older app).
SCOPE_PRESETS: dict[str, frozenset[str]] = {"new-app": NEW_APP_SCOPES, "all": ALL_SCOPES}


class TokenError(Exception):
    """An OAuth error answer of the token or revocation endpoint."""

    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


class AuthorizePageError(Exception):
    """A bad client or redirect URI: shown as a 400 page, never redirected."""


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float
    tenants: tuple[str, ...] = ()  # the organisations the person connected
    used: bool = False


@dataclass
class Chain:
    chain_id: int
    scopes: frozenset[str]
    tenants: tuple[str, ...]
    auth_event_id: str
    revoked: bool = False
    rotations: int = 0
    live_refresh: str | None = None  # the newest refresh token


@dataclass
class RefreshToken:
    chain: Chain
    issued_at: float
    used_at: float | None = None


@dataclass
class AccessGrant:
    """What an access token allows, checked on every API call."""

    scopes: frozenset[str]
    tenants: tuple[str, ...]
    expires_at: float
    chain: Chain | None = None
    client_credentials: bool = False


@dataclass
class IdentityState:
    codes: dict[str, AuthCode] = field(default_factory=dict)
    chains: list[Chain] = field(default_factory=list)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    access: dict[str, AccessGrant] = field(default_factory=dict)
    # The organisations the next person to authorize connects (None: every one), as a
    # second Xero user who connected other organisations would (POST /_sandbox/consent).
    consent: tuple[str, ...] | None = None


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_uri_allowed(uri: str) -> bool:
    """https anywhere; plain http only to the loopback (as Xero allows for localhost)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.fragment or not parts.netloc:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS

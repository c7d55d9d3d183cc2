"""Xero's identity service in memory: authorize codes, token grants, rotation, revocation.

Refresh tokens form chains (one per consent). Each refresh rotates: it issues a new
refresh token and marks the old one used. The old one may be used again within
`grace` seconds of its first use (Xero's 30-minute grace for lost responses); each
such reuse issues another valid token set on the same chain and counts as a grace
reuse. After the grace, or at once in strict mode, reuse is `invalid_grant`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import orjson

from oauth_etl_dev.sandbox.catalog import ALL_SCOPES
from oauth_etl_dev.sandbox.clock import SandboxClock
from oauth_etl_dev.sandbox.config import SandboxConfig
from oauth_etl_dev.sandbox.grants import (
    VERIFIER_RE,
    AccessGrant,
    AuthCode,
    AuthorizePageError,
    Chain,
    IdentityState,
    RefreshToken,
    TokenError,
    redirect_uri_allowed,
    s256,
)
from oauth_etl_dev.sandbox.stats import Stats


class IdentityService:
    def __init__(
        self, config: SandboxConfig, clock: SandboxClock, stats: Stats, tenants: list[str]
    ) -> None:
        self.config = config
        self.clock = clock
        self.stats = stats
        self.tenant_ids = tenants
        self.state = IdentityState()

    def reset(self) -> None:
        self.state = IdentityState()

    # -- authorize -------------------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> str:
        """Approve at once; return the redirect URL (with `code` or an OAuth error)."""
        # Xero answers a bad client, redirect URI or scope with an error screen at the login
        # host, never a redirect (developer.xero.com/documentation/oauth2/troubleshooting).
        if params.get("client_id") != self.config.client_id:
            raise AuthorizePageError(
                "Error: unauthorized_client - Unknown client or client not enabled"
            )
        redirect_uri = params.get("redirect_uri", "")
        self._check_redirect_uri(redirect_uri)
        state = params.get("state")

        def back(**query: str) -> str:
            if state is not None:
                query["state"] = state
            sep = "&" if urlsplit(redirect_uri).query else "?"
            return f"{redirect_uri}{sep}{urlencode(query)}"

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        scopes = frozenset(params.get("scope", "").split())
        self._check_scopes(scopes)
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is not None or method is not None:
            if (
                method != "S256"
                or not challenge
                or not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)
            ):
                return back(
                    error="invalid_request",
                    error_description="code_challenge must be S256 (base64url of SHA-256)",
                )
        elif self.config.client_secret is None:
            return back(error="invalid_request", error_description="PKCE code_challenge required")
        code = secrets.token_urlsafe(24)
        self.state.codes[code] = AuthCode(
            client_id=self.config.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            challenge=challenge,
            expires_at=self.clock.now() + self.config.code_ttl,
            tenants=self.state.consent
            if self.state.consent is not None
            else tuple(self.tenant_ids),
        )
        return back(code=code)

    def _check_redirect_uri(self, redirect_uri: str) -> None:
        registered = self.config.redirect_uris
        if registered is None:  # no registration modelled: any https or loopback URI
            if not redirect_uri_allowed(redirect_uri):
                raise AuthorizePageError(
                    "Error: unauthorized_client - Invalid redirect_uri "
                    "(use https, or http only for 127.0.0.1/localhost)"
                )
            return
        # Exact string match with one registered URI: no wildcards, no prefix, no port
        # or case folding (developer.xero.com/faq/oauth2).
        if redirect_uri not in registered:
            raise AuthorizePageError(
                "Error: unauthorized_client - Invalid redirect_uri: it must equal one of the "
                f"app's {len(registered)} registered redirect URIs exactly"
            )

    def _check_scopes(self, scopes: frozenset[str]) -> None:
        """One scope the app may not have fails the whole consent (no partial grant).

        Unknown scope: `invalid_scope`; known but not enabled for the app: Xero's
        "Invalid scope for client" (help.apideck.com/en/articles/8647746, third party;
        Xero's troubleshooting page only says the authorize step shows an error screen).
        """
        if not scopes:
            raise AuthorizePageError("Error: invalid_scope - scope is required")
        unknown = scopes - ALL_SCOPES
        if unknown:
            raise AuthorizePageError(f"Error: invalid_scope - unknown: {' '.join(sorted(unknown))}")
        refused = scopes - self.config.scopes
        if refused:
            raise AuthorizePageError(
                "Error: unauthorized_client - Invalid scope for client (invalid_scope: "
                f"{' '.join(sorted(refused))})"
            )

    # -- token -----------------------------------------------------------------------
    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise TokenError("invalid_request", "grant_type is required")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise TokenError("unsupported_grant_type")
        confidential = self._authenticate(
            form, authorization, allow_public=grant_type != "client_credentials"
        )
        if grant_type == "authorization_code":
            result = self._grant_code(form, confidential)
        elif grant_type == "refresh_token":
            result = self._grant_refresh(form)
        else:
            result = self._grant_client_credentials(form)
        self.stats.grants[grant_type] += 1
        return result

    def _authenticate(
        self, form: dict[str, str], authorization: str | None, allow_public: bool
    ) -> bool:
        """Check the client; True if it proved a secret (confidential)."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise TokenError("invalid_client", status=401) from exc
            user, _, password = decoded.partition(":")
            client_id, secret = unquote(user), unquote(password)
        if client_id != self.config.client_id:
            raise TokenError("invalid_client", status=401)
        expected = self.config.client_secret
        if expected is None:
            if not allow_public:
                # Custom connections need a secret: a public client cannot use them.
                raise TokenError("invalid_client", status=401)
            return False
        if not secret or not secrets.compare_digest(secret.encode(), expected.encode()):
            raise TokenError("invalid_client", status=401)
        return True

    def _grant_code(self, form: dict[str, str], confidential: bool) -> dict[str, Any]:
        code_value, redirect_uri = form.get("code"), form.get("redirect_uri")
        if not code_value or not redirect_uri:
            raise TokenError("invalid_request", "code and redirect_uri are required")
        code = self.state.codes.get(code_value)
        if code is None or code.used or code.expires_at <= self.clock.now():
            raise self._invalid_grant()
        code.used = True  # single use, even when the checks below fail
        if code.redirect_uri != redirect_uri:
            raise self._invalid_grant()
        verifier = form.get("code_verifier")
        if code.challenge is not None:
            if (
                not verifier
                or not VERIFIER_RE.fullmatch(verifier)
                or s256(verifier) != code.challenge
            ):
                raise self._invalid_grant()
        elif not confidential:
            raise self._invalid_grant()
        chain = Chain(
            chain_id=len(self.state.chains) + 1,
            scopes=code.scopes,
            tenants=code.tenants,
            auth_event_id=secrets.token_hex(4) + "-0000-4000-8000-" + secrets.token_hex(6),
        )
        self.state.chains.append(chain)
        return self._issue(chain, with_refresh="offline_access" in code.scopes)

    def _grant_refresh(self, form: dict[str, str]) -> dict[str, Any]:
        value = form.get("refresh_token")
        if not value:
            raise TokenError("invalid_request", "refresh_token is required")
        token = self.state.refresh.get(value)
        now = self.clock.now()
        if token is None or token.chain.revoked:
            raise self._invalid_grant()
        if token.used_at is None:
            if now - token.issued_at > self.config.refresh_ttl:
                raise self._invalid_grant()
            token.used_at = now
        else:
            if self.config.strict or now - token.used_at > self.config.grace:
                raise self._invalid_grant()
            self.stats.grace_reuses += 1
        token.chain.rotations += 1
        return self._issue(token.chain, with_refresh=True)

    def _grant_client_credentials(self, form: dict[str, str]) -> dict[str, Any]:
        requested = frozenset(form.get("scope", "").split())
        allowed = self.config.scopes - {"offline_access", "openid", "profile", "email"}
        bad = requested - allowed
        if bad:
            raise TokenError(
                "invalid_scope", f"scopes not allowed for this app: {' '.join(sorted(bad))}"
            )
        scopes = requested or allowed
        access = self.config.token_prefix + secrets.token_urlsafe(32)
        self.state.access[access] = AccessGrant(
            scopes=scopes,
            tenants=(self.tenant_ids[0],),  # a custom connection has one organisation
            expires_at=self.clock.now() + self.config.access_ttl,
            client_credentials=True,
        )
        return {
            "access_token": access,
            "expires_in": self.config.access_ttl,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }

    def _issue(self, chain: Chain, *, with_refresh: bool) -> dict[str, Any]:
        now = self.clock.now()
        access = self.config.token_prefix + secrets.token_urlsafe(32)
        self.state.access[access] = AccessGrant(
            scopes=chain.scopes,
            tenants=chain.tenants,
            expires_at=now + self.config.access_ttl,
            chain=chain,
        )
        out: dict[str, Any] = {}
        if "openid" in chain.scopes:
            out["id_token"] = self._id_token(chain, now)
        out["access_token"] = access
        out["expires_in"] = self.config.access_ttl
        out["token_type"] = "Bearer"  # noqa: S105 - a token type, not a secret
        if with_refresh:
            refresh = self.config.token_prefix + secrets.token_urlsafe(32)
            self.state.refresh[refresh] = RefreshToken(chain=chain, issued_at=now)
            chain.live_refresh = refresh
            out["refresh_token"] = refresh
        out["scope"] = " ".join(sorted(chain.scopes))
        return out

    def _id_token(self, chain: Chain, now: float) -> str:
        """An unsigned JWT-shaped id_token (the sandbox has no keys to sign with)."""

        def part(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()

        claims = {
            "iss": "sandbox-identity",
            "aud": self.config.client_id,
            "sub": f"sandbox-user-{chain.chain_id}",
            "iat": int(now),
            "exp": int(now) + 300,
            "email": "sandbox.user@example.com",
            "global_session_id": chain.auth_event_id,
        }
        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

    def _invalid_grant(self) -> TokenError:
        self.stats.invalid_grant += 1
        return TokenError("invalid_grant")

    # -- revocation ------------------------------------------------------------------
    def revoke(self, form: dict[str, str], authorization: str | None) -> None:
        self._authenticate(form, authorization, allow_public=True)
        value = form.get("token")
        if not value:
            raise TokenError("invalid_request", "token is required")
        token = self.state.refresh.get(value)
        if token is not None and not token.chain.revoked:
            token.chain.revoked = True
            self.stats.revocations += 1
        # Unknown tokens: 200 as RFC 7009 says, nothing to do.

    # -- access tokens ---------------------------------------------------------------
    def grant_for(self, access_token: str) -> AccessGrant | None:
        grant = self.state.access.get(access_token)
        if grant is None or (grant.chain is not None and grant.chain.revoked):
            return None
        return grant

    def chain_stats(self) -> dict[str, Any]:
        now = self.clock.now()
        live = [c for c in self.state.chains if not c.revoked]

        def refresh_alive(chain: Chain) -> bool:
            if chain.live_refresh is None:
                return False
            token = self.state.refresh[chain.live_refresh]
            return token.used_at is None and now - token.issued_at <= self.config.refresh_ttl

        return {
            "total": len(self.state.chains),
            "live": sum(1 for c in live if refresh_alive(c)),
            "revoked": len(self.state.chains) - len(live),
            "rotations": {str(c.chain_id): c.rotations for c in self.state.chains},
            "current_length": max((c.rotations for c in live), default=0),
            "access_tokens_valid": sum(
                1
                for g in self.state.access.values()
                if g.expires_at > now and not (g.chain is not None and g.chain.revoked)
            ),
        }

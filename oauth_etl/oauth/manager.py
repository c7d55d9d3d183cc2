"""The token manager: the refresh protocol (`refresh.py`) plus the admin operations.

`oauth-etl token status|keep-alive|revoke|import|restore` and `authorize` go through
here; every write takes the same two locks as a refresh.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from oauth_etl.oauth.errors import (
    AuthorizationRequired,
    InvalidGrant,
    NotATokenSet,
    TokenStoreError,
    clip,
)
from oauth_etl.oauth.refresh import (
    Grant,
    RefreshingTokens,
    TokenEndpointLike,
    revoked_reason,
)
from oauth_etl.oauth.rescue import rescue_copies
from oauth_etl.oauth.tokens import TokenSet

__all__ = ["Grant", "TokenEndpointLike", "TokenManager", "TokenStatus"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenStatus:
    """What `oauth-etl token status` shows: no token, only facts about it."""

    store: str
    lock: str
    grant: str
    present: bool
    fingerprint: str | None = None
    scope: str = ""
    access_expires_at: float | None = None
    access_seconds_left: float | None = None
    access_valid: bool = False
    has_refresh_token: bool = False
    refresh_token_age_seconds: float | None = None
    refresh_days_left: float | None = None
    refresh_lifetime_days: float | None = None  # the provider's; None: it does not say
    rescue: str = ""  # where a set that cannot be saved would be kept
    revoked: str = ""  # why the stored set was revoked ('' when it was not)

    @property
    def usable(self) -> bool:
        """Can a command get an access token from this set (now, or by a refresh)?"""
        if not self.present or self.revoked:
            return False
        return self.access_valid or self.has_refresh_token or self.grant == "client_credentials"

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI."""
        out = [f"store: {self.store}", f"lock: {self.lock}", f"grant: {self.grant}"]
        if self.rescue:
            out.append(f"rescue copies: {self.rescue}")
        if not self.present:
            return [*out, "token set: none stored (run `oauth-etl authorize`)"]
        if self.revoked:
            return [*out, f"token set: {self.revoked}: run `oauth-etl authorize` to connect again"]
        out.append(f"token set: {self.fingerprint} scope={self.scope!r}")
        if self.access_expires_at is not None:
            when = datetime.fromtimestamp(self.access_expires_at, UTC).isoformat(timespec="seconds")
            state = "valid" if self.access_valid else "expired"
            out.append(f"access token: {state}, expires {when} ({self.access_seconds_left:.0f} s)")
        if self.has_refresh_token:
            if self.refresh_days_left is not None:
                out.append(
                    f"refresh token: {self.refresh_days_left:.1f} days left of "
                    f"{self.refresh_lifetime_days:g} unused"
                )
            else:
                out.append("refresh token: present (age unknown)")
        elif self.grant == "authorization_code":
            out.append("refresh token: none (was offline_access granted?)")
        return out


class TokenManager(RefreshingTokens):
    """The process's one owner of a token set: refreshes plus the admin operations."""

    # -- other entry points ---------------------------------------------------------
    def current(self) -> TokenSet | None:
        """The stored token set (no lock, no refresh)."""
        return self._read_store()

    def status(self, now: float | None = None) -> TokenStatus:
        now = self.clock() if now is None else now
        tokens = self._read_store()
        store, lock, rescue = self.store.describe(), self.lock.describe(), self.rescue.describe()
        if tokens is None:
            return TokenStatus(
                store=store, lock=lock, grant=self.grant, present=False, rescue=rescue
            )
        age = tokens.refresh_token_age(now)
        lifetime = self.provider.refresh_token_lifetime_seconds
        return TokenStatus(
            store=store,
            lock=lock,
            grant=self.grant,
            present=True,
            fingerprint=tokens.fingerprint(),
            scope=tokens.scope,
            access_expires_at=tokens.expires_at if tokens.access_token else None,
            access_seconds_left=(tokens.expires_at - now) if tokens.access_token else None,
            access_valid=tokens.access_valid(now),
            has_refresh_token=tokens.refresh_token is not None,
            refresh_token_age_seconds=age,
            refresh_days_left=((lifetime - age) / 86400 if age is not None and lifetime else None),
            refresh_lifetime_days=lifetime / 86400 if lifetime else None,
            rescue=rescue,
            revoked=revoked_reason(tokens, store) if tokens.revoked() else "",
        )

    def keep_alive(self, min_age_seconds: float) -> bool:
        """Rotate the refresh token if it is at least `min_age_seconds` old.

        Keeps an unused chain from reaching the provider's expiry. Decided under the
        locks on the stored set, so a refresh by another process counts as recent.
        Returns whether a refresh happened.
        """
        if self.grant == "client_credentials":
            return False  # nothing to keep alive: no refresh token
        with self._locked():
            stored = self._load_locked()
            if stored is None:
                raise AuthorizationRequired(f"no token set in {self.store.describe()}")
            age = stored.refresh_token_age(self.clock())
            if age is not None and age < min_age_seconds:
                return False
            self._refresh_locked(stored)
            return True

    def revoke(self) -> None:
        """Revoke the refresh token at the provider and forget the stored set."""
        with self._locked():
            stored = self._load_locked()
            if stored is None or stored.refresh_token is None:
                raise AuthorizationRequired(f"no refresh token in {self.store.describe()}")
            self.endpoint.revoke(stored.refresh_token)
            revoked = replace(
                stored, access_token=None, refresh_token=None, revoked_at=self.clock()
            )
            self._save_verified(revoked)
            self._hot = None
        logger.info("revoked token set %s", stored.fingerprint())

    def store_initial(self, tokens: TokenSet) -> None:
        """Store a token set from an authorization (replaces whatever was stored)."""
        with self._locked():
            self._save_verified(tokens)
            self._remember(tokens)
        logger.info("stored token set %s in %s", tokens.fingerprint(), self.store.describe())

    def import_refresh_token(self, refresh_token: str) -> TokenSet:
        """Adopt a refresh token obtained elsewhere: refresh with it at once, store the result.

        The store is only written once the token proved good, so a mistyped token
        never replaces a working token set.
        """
        if not refresh_token or refresh_token != refresh_token.strip():
            raise ValueError("the refresh token is empty or has surrounding whitespace")
        with self._locked():
            try:
                payload = self.endpoint.refresh(refresh_token)
            except InvalidGrant:
                raise AuthorizationRequired(
                    "the refresh token given to import was rejected "
                    "(invalid_grant: expired, revoked or already used); the store was not changed"
                ) from None
            new = self.tokens_from(payload, None)
            if new.refresh_token is None:
                new = replace(new, refresh_token=refresh_token, refresh_token_issued_at=None)
            self._save_verified(new)
            self._remember(new)
        logger.info("imported refresh token, stored token set %s", new.fingerprint())
        return new

    def _rescue_listing(self) -> str:
        copies = rescue_copies(self.rescue)
        if copies is None:
            return f"list {self.rescue.describe()} to find them"
        if not copies:
            return f"{self.rescue.describe()} holds none"
        shown = ", ".join(copies[-3:])
        return f"{self.rescue.describe()} holds {len(copies)}, the newest: {shown}"

    def _read_rescue(self, path: str) -> TokenSet:
        """The token set in a rescue copy, or a TokenStoreError saying what the argument
        takes and which copies there are."""
        takes = "give the file path or blob URL a failed save named"
        # A path is quoted; anything else may be a token pasted in by mistake (a refresh
        # token, a JWT, token JSON have no "/"): only its first characters are.
        shown = clip(path, 120) if "/" in path or path.endswith(".json") else clip(path, 8)
        if not path:
            raise TokenStoreError(f"no rescue copy given: {takes}; {self._rescue_listing()}")
        owned = self.rescue.owns(path)
        if not owned and "://" in path:
            raise TokenStoreError(
                f"{shown} is a URL, but rescue copies are kept in {self.rescue.describe()} "
                "(the rescue location): a blob URL must lie under it, else give a file path; "
                + self._rescue_listing()
            )
        try:
            data = self.rescue.read(path) if owned else Path(path).read_bytes()
        except IsADirectoryError:
            raise TokenStoreError(
                f"{shown} is a directory, not a rescue copy: {takes}; {self._rescue_listing()}"
            ) from None
        except FileNotFoundError:
            raise TokenStoreError(
                f"no rescue copy at {shown}: {takes}; {self._rescue_listing()}"
            ) from None
        except OSError as exc:
            raise TokenStoreError(
                f"cannot read rescue copy {shown}: {exc.strerror or exc}"
            ) from None
        try:
            return TokenSet.from_json(data, source=f"rescue copy {shown}")
        except NotATokenSet as exc:
            raise exc.with_fix(
                "it cannot be restored: run `oauth-etl authorize` (or restore another "
                f"copy: {self._rescue_listing()})"
            ) from None

    def restore(self, rescue_path: str | os.PathLike[str], *, force: bool = False) -> TokenSet:
        """Put a rescued token set (a file path or a rescue blob URL) back into the store.

        Refuses when the store holds a newer set (unless `force`): restoring an older
        refresh token over a newer one would lose the newer one.
        """
        path = os.fspath(rescue_path).strip()
        rescued = self._read_rescue(path)
        with self._locked():
            stored = self._read_store()
            if stored is not None and stored.obtained_at > rescued.obtained_at and not force:
                raise TokenStoreError(
                    f"{self.store.describe()} holds a newer token set than {path} "
                    "(obtained later); not restoring. Use --force to restore anyway"
                )
            self._save_verified(rescued)
            self._remember(rescued)
        logger.info("restored token set %s from %s", rescued.fingerprint(), path)
        return rescued

"""The token manager: DESIGN's "getting an access token" protocol, step by step.

1. In-process cache valid beyond the skew → return it (no I/O, no lock).
2. Otherwise the threading lock, then the cross-process lock.
3. Re-read the store: another process may have refreshed; valid → use it.
4. Refresh, save at once (bounded retries), read back and compare.
5. Save failed for good → rescue file (0600) → `TokenSaveFailed`.

`invalid_grant` → re-read the store (someone else rotated: use theirs). A refresh
whose answer was lost is re-sent with the same refresh token (Xero's grace
period), a bounded number of times; only then `AuthorizationRequired`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import (
    AuthorizationRequired,
    InvalidGrant,
    OAuthError,
    TokenEndpointError,
    TokenEndpointUnreachable,
    TokenSaveFailed,
    TokenStoreError,
)
from oauth_etl.oauth.locks import CrossProcessLock
from oauth_etl.oauth.stores import TokenStore
from oauth_etl.oauth.tokens import REFRESH_TOKEN_LIFETIME_SECONDS, TokenSet, fingerprint_of

logger = logging.getLogger(__name__)

Grant = Literal["authorization_code", "client_credentials"]


class TokenEndpointLike(Protocol):
    def refresh(self, refresh_token: str) -> dict[str, Any]: ...
    def client_credentials(self, scope: str = "") -> dict[str, Any]: ...
    def revoke(self, refresh_token: str) -> None: ...


class ManagerHooks:
    """Test seams; the defaults do nothing. Subclass and override."""

    def after_refresh_response(self, payload: dict[str, Any]) -> None:
        """Called after the token endpoint answered, before the new set is saved."""


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

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI."""
        out = [f"store: {self.store}", f"lock: {self.lock}", f"grant: {self.grant}"]
        if not self.present:
            return [*out, "token set: none stored (run `oauth-etl authorize`)"]
        out.append(f"token set: {self.fingerprint} scope={self.scope!r}")
        if self.access_expires_at is not None:
            when = datetime.fromtimestamp(self.access_expires_at, UTC).isoformat(timespec="seconds")
            state = "valid" if self.access_valid else "expired"
            out.append(f"access token: {state}, expires {when} ({self.access_seconds_left:.0f} s)")
        if self.has_refresh_token:
            if self.refresh_days_left is not None:
                out.append(f"refresh token: {self.refresh_days_left:.1f} days left of 60 unused")
            else:
                out.append("refresh token: present (age unknown)")
        elif self.grant == "authorization_code":
            out.append("refresh token: none (was offline_access granted?)")
        return out


def _default_rescue_dir() -> Path:
    home = Path.home() / ".oauth_etl" / "rescue"
    with contextlib.suppress(OSError):
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.access(home, os.W_OK):
            return home
    return Path(tempfile.gettempdir()) / f"oauth-etl-rescue-{os.getuid()}"


class TokenManager:
    def __init__(
        self,
        store: TokenStore,
        endpoint: TokenEndpoint | TokenEndpointLike,
        lock: CrossProcessLock,
        *,
        skew_seconds: float = 300.0,
        grant: Grant = "authorization_code",
        scope: str = "",
        clock: Callable[[], float] = time.time,
        rescue_dir: Path | None = None,
        save_attempts: int = 4,
        save_backoff: float = 0.25,
        refresh_attempts: int = 3,
        refresh_backoff: float = 0.5,
        hooks: ManagerHooks | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if grant not in ("authorization_code", "client_credentials"):
            raise ValueError(f"grant {grant!r}: use 'authorization_code' or 'client_credentials'")
        if save_attempts < 1 or refresh_attempts < 1:
            raise ValueError("save_attempts and refresh_attempts must be at least 1")
        self.store = store
        self.endpoint = endpoint
        self.lock = lock
        self.grant: Grant = grant
        self.scope = scope
        self._skew = float(skew_seconds)
        self.clock = clock
        self._rescue_dir = rescue_dir
        self._save_attempts = save_attempts
        self._save_backoff = save_backoff
        self._refresh_attempts = refresh_attempts
        self._refresh_backoff = refresh_backoff
        self._hooks = hooks or ManagerHooks()
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        # (access token, use-until, set) in one tuple: read and replaced atomically, no lock.
        self._hot: tuple[str, float, TokenSet] | None = None

    def __repr__(self) -> str:
        return f"TokenManager(store={self.store.describe()!r}, grant={self.grant!r})"

    # -- step 1: the hot path ------------------------------------------------------------
    def access_token(self) -> str:
        """A bearer token valid for longer than the skew; refreshes when needed."""
        hot = self._hot
        if hot is not None and self.clock() < hot[1]:
            return hot[0]
        tokens = self._ensure()
        assert tokens.access_token is not None
        return tokens.access_token

    def _remember(self, tokens: TokenSet) -> None:
        if tokens.access_token is None:
            self._hot = None
        else:
            self._hot = (tokens.access_token, tokens.expires_at - self._skew, tokens)

    def forget(self) -> None:
        """Drop the in-process cache (next call re-reads the store)."""
        self._hot = None

    # -- steps 2-5 -------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, self.lock.hold():
            yield

    def _ensure(self) -> TokenSet:
        with self._thread_lock:
            hot = self._hot  # another thread may have refreshed while we waited
            now = self.clock()
            if hot is not None and now < hot[1]:
                return hot[2]
            with self.lock.hold():
                return self._ensure_locked()

    def _load_locked(self) -> TokenSet | None:
        """The stored set, read holding both locks.

        A store that can leave a complete but unrenamed save behind (a process killed
        mid-save) adopts it first: it may hold the only live refresh token.
        """
        recover = getattr(self.store, "recover_interrupted_save", None)
        if recover is not None:
            recover()
        return self.store.load()

    def _ensure_locked(self) -> TokenSet:
        stored = self._load_locked()
        now = self.clock()
        if stored is not None and stored.access_valid(now, self._skew):
            logger.debug("token set %s from the store is valid: no refresh", stored.fingerprint())
            self._remember(stored)
            return stored
        return self._renew_locked(stored)

    def _renew_locked(self, stored: TokenSet | None) -> TokenSet:
        if self.grant == "client_credentials":
            return self._client_credentials_locked(stored)
        if stored is None:
            raise AuthorizationRequired(f"no token set in {self.store.describe()}")
        return self._refresh_locked(stored)

    def refresh(self, force: bool = True, stale_access_token: str | None = None) -> TokenSet:
        """Refresh now (force) or only when needed.

        `stale_access_token`: the token a server just rejected. If the current token
        differs, someone already rotated past it and no refresh happens.
        """
        with self._thread_lock:
            hot = self._hot
            if (
                stale_access_token is not None
                and hot is not None
                and hot[0] != stale_access_token
                and self.clock() < hot[1]
            ):
                return hot[2]  # another thread already rotated past the stale token
            with self.lock.hold():
                stored = self._load_locked()
                now = self.clock()
                if (
                    stale_access_token is not None
                    and stored is not None
                    and stored.access_token != stale_access_token
                    and stored.access_valid(now, 0.0)
                ):
                    logger.info("token set %s already rotated: no refresh", stored.fingerprint())
                    self._remember(stored)
                    return stored
                if not force and stored is not None and stored.access_valid(now, self._skew):
                    self._remember(stored)
                    return stored
                return self._renew_locked(stored)

    def _refresh_locked(self, stored: TokenSet) -> TokenSet:
        """Refresh with the stored refresh token; caller holds both locks."""
        previous = stored
        refresh_token = stored.refresh_token
        if refresh_token is None:
            raise AuthorizationRequired(
                f"the token set in {self.store.describe()} has no refresh token "
                "(authorize with the offline_access scope)"
            )
        lost_answer = False
        for attempt in range(1, self._refresh_attempts + 1):
            try:
                payload = self.endpoint.refresh(refresh_token)
            except InvalidGrant:
                current = self.store.load()
                if current is not None and current.refresh_token not in (None, refresh_token):
                    # Someone rotated without our lock (other host, manual import): use theirs.
                    logger.warning(
                        "refresh token %s rejected, but the store now holds %s: using it",
                        fingerprint_of(refresh_token),
                        fingerprint_of(current.refresh_token),
                    )
                    if current.access_valid(self.clock(), self._skew):
                        self._remember(current)
                        return current
                    previous, refresh_token = current, current.refresh_token
                    continue
                raise AuthorizationRequired(self._rejected_reason(stored, lost_answer)) from None
            except TokenEndpointUnreachable as exc:
                lost_answer = lost_answer or exc.request_sent
                self._retry_or_raise(attempt, exc, refresh_token)
                continue
            except TokenEndpointError as exc:
                if exc.status == 200:
                    lost_answer = True  # a garbled success: the token may have rotated
                elif not exc.retryable:
                    raise
                self._retry_or_raise(attempt, exc, refresh_token)
                continue
            self._hooks.after_refresh_response(payload)
            try:
                new = TokenSet.from_token_response(payload, self.clock(), previous)
            except TokenEndpointError as exc:
                # The server answered 200 but with unusable fields: it may have rotated the
                # token all the same, so this is a lost answer (re-send within the grace).
                lost_answer = True
                self._retry_or_raise(attempt, exc, refresh_token)
                continue
            logger.info(
                "refreshed: refresh token %s → %s, access token %s valid %.0f s",
                fingerprint_of(refresh_token),
                fingerprint_of(new.refresh_token),
                fingerprint_of(new.access_token),
                new.expires_at - self.clock(),
            )
            self._save_verified(new)
            self._remember(new)
            return new
        raise AuthorizationRequired(self._rejected_reason(stored, lost_answer))

    def _retry_or_raise(self, attempt: int, exc: OAuthError, refresh_token: str) -> None:
        if attempt >= self._refresh_attempts:
            raise exc
        delay = self._refresh_backoff * 2 ** (attempt - 1)
        logger.warning(
            "refresh with %s failed (%s); re-sending the same refresh token in %.1f s "
            "(attempt %d of %d, within the grace period)",
            fingerprint_of(refresh_token),
            type(exc).__name__,
            delay,
            attempt + 1,
            self._refresh_attempts,
        )
        self._sleep(delay)

    def _rejected_reason(self, stored: TokenSet, lost_answer: bool) -> str:
        age = stored.refresh_token_age(self.clock())
        age_text = f", issued {age / 86400:.1f} days ago" if age is not None else ""
        lost = "; an earlier answer was lost and the grace period is over" if lost_answer else ""
        return (
            f"the refresh token {fingerprint_of(stored.refresh_token)} in "
            f"{self.store.describe()} was rejected (invalid_grant: expired after 60 days "
            f"unused, revoked, or already used{age_text}){lost}"
        )

    def _client_credentials_locked(self, stored: TokenSet | None) -> TokenSet:
        payload = self.endpoint.client_credentials(self.scope)
        new = TokenSet.from_token_response(payload, self.clock(), None)
        logger.info("client_credentials: new access token %s", fingerprint_of(new.access_token))
        self._save_verified(new)
        self._remember(new)
        return new

    # -- saving ------------------------------------------------------------------------
    def _save_verified(self, tokens: TokenSet) -> None:
        """Save, read back, compare; bounded retries; rescue file when it never works."""

        def attempt() -> None:
            self.store.save(tokens)
            back = self.store.load()
            if back != tokens:
                raise TokenStoreError(
                    f"read-back from {self.store.describe()} returned "
                    f"{back.fingerprint() if back else 'nothing'}, expected {tokens.fingerprint()}"
                )

        try:
            for step in Retrying(
                stop=stop_after_attempt(self._save_attempts),
                wait=wait_exponential(multiplier=self._save_backoff, max=5.0),
                retry=retry_if_exception_type((TokenStoreError, OSError)),
                sleep=self._sleep,
                reraise=True,
            ):
                with step:
                    attempt()
        except (TokenStoreError, OSError) as exc:
            cause = str(exc) if isinstance(exc, TokenStoreError) else type(exc).__name__
            rescue = self._write_rescue(tokens)
            logger.error(
                "could not save token set %s: %s; rescue file %s",
                tokens.fingerprint(),
                cause,
                rescue,
            )
            raise TokenSaveFailed(self.store.describe(), cause, rescue) from None

    def _write_rescue(self, tokens: TokenSet) -> Path | None:
        directory = self._rescue_dir or _default_rescue_dir()
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"token-rescue-{stamp}-{tokens.fingerprint()}.json"
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(tokens.to_json())
                handle.flush()
                os.fsync(handle.fileno())
        except FileExistsError:
            return path  # the same set, rescued already
        except OSError as exc:
            logger.error("could not write the rescue file %s: %s", path, exc.strerror)
            return None
        return path

    # -- other entry points ---------------------------------------------------------
    def current(self) -> TokenSet | None:
        """The stored token set (no lock, no refresh)."""
        return self.store.load()

    def status(self, now: float | None = None) -> TokenStatus:
        now = self.clock() if now is None else now
        tokens = self.store.load()
        store, lock = self.store.describe(), self.lock.describe()
        if tokens is None:
            return TokenStatus(store=store, lock=lock, grant=self.grant, present=False)
        age = tokens.refresh_token_age(now)
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
            refresh_days_left=(
                (REFRESH_TOKEN_LIFETIME_SECONDS - age) / 86400 if age is not None else None
            ),
        )

    def keep_alive(self, min_age_seconds: float) -> bool:
        """Rotate the refresh token if it is at least `min_age_seconds` old.

        Keeps an unused chain from reaching Xero's 60-day expiry. Decided under the
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
            self._save_verified(replace(stored, access_token=None, refresh_token=None))
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
                    f"the imported refresh token {fingerprint_of(refresh_token)} was rejected "
                    "(invalid_grant: expired, revoked or already used); the store was not changed"
                ) from None
            new = TokenSet.from_token_response(payload, self.clock(), None)
            if new.refresh_token is None:
                new = replace(new, refresh_token=refresh_token, refresh_token_issued_at=None)
            self._save_verified(new)
            self._remember(new)
        logger.info("imported refresh token, stored token set %s", new.fingerprint())
        return new

    def restore(self, rescue_path: str | os.PathLike[str], *, force: bool = False) -> TokenSet:
        """Put a rescued token set back into the store.

        Refuses when the store holds a newer set (unless `force`): restoring an older
        refresh token over a newer one would lose the newer one.
        """
        path = Path(rescue_path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TokenStoreError(f"cannot read rescue file {path}: {exc.strerror}") from None
        rescued = TokenSet.from_json(data, source=f"rescue file {path}")
        with self._locked():
            stored = self.store.load()
            if stored is not None and stored.obtained_at > rescued.obtained_at and not force:
                raise TokenStoreError(
                    f"{self.store.describe()} holds a newer token set than {path} "
                    "(obtained later); not restoring. Use --force to restore anyway"
                )
            self._save_verified(rescued)
            self._remember(rescued)
        logger.info("restored token set %s from %s", rescued.fingerprint(), path)
        return rescued

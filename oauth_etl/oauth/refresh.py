"""Getting an access token: the refresh protocol, step by step.

1. In-process cache valid beyond the skew → return it (no I/O, no lock).
2. Otherwise the threading lock, then the cross-process lock.
3. Re-read the store: another process may have refreshed; valid → use it.
4. Refresh, save at once (bounded retries), read back and compare.
5. Save failed for good → rescue copy (see `rescue.py`) → `TokenSaveFailed`.

`invalid_grant` → re-read the store (someone else rotated: use theirs). A refresh
whose answer was lost is re-sent with the same refresh token (within the provider's
grace period, if it has one: Xero's is 30 minutes), a bounded number of times; only
then `AuthorizationRequired`.
The admin operations (status, keep-alive, revoke, import, restore) are in `manager.py`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import (
    AuthorizationRequired,
    InvalidGrant,
    NotATokenSet,
    OAuthError,
    TokenEndpointError,
    TokenEndpointUnreachable,
    TokenSaveFailed,
    TokenStoreError,
)
from oauth_etl.oauth.locks import CrossProcessLock
from oauth_etl.oauth.provider import NEUTRAL, Provider
from oauth_etl.oauth.rescue import FileRescueSink, RescueSink, default_rescue_dir, restore_hint
from oauth_etl.oauth.stores import TokenStore
from oauth_etl.oauth.tokens import TokenSet, fingerprint_of

logger = logging.getLogger(__name__)

Grant = Literal["authorization_code", "client_credentials"]


def revoked_reason(tokens: TokenSet, store: str) -> str:
    """Why a revoked set cannot be used: when it was revoked, if recorded."""
    when = (
        datetime.fromtimestamp(tokens.revoked_at, UTC).strftime(" on %Y-%m-%d %H:%M:%S UTC")
        if tokens.revoked_at is not None
        else ""
    )
    return f"the token set in {store} was revoked{when}"


class TokenEndpointLike(Protocol):
    def refresh(self, refresh_token: str) -> dict[str, Any]: ...
    def client_credentials(self, scope: str = "") -> dict[str, Any]: ...
    def revoke(self, refresh_token: str) -> None: ...


class RefreshingTokens:
    """One token set: cached, refreshed under both locks, saved at once."""

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
        rescue: RescueSink | None = None,
        save_attempts: int = 4,
        save_backoff: float = 0.25,
        refresh_attempts: int = 3,
        refresh_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        provider: Provider | None = None,
    ) -> None:
        """`provider`: the names and facts messages use (default: the endpoint's)."""
        if grant not in ("authorization_code", "client_credentials"):
            raise ValueError(f"grant {grant!r}: use 'authorization_code' or 'client_credentials'")
        if save_attempts < 1 or refresh_attempts < 1:
            raise ValueError("save_attempts and refresh_attempts must be at least 1")
        self.store = store
        self.endpoint = endpoint
        found = getattr(endpoint, "provider", None)
        self.provider = provider or (found if isinstance(found, Provider) else NEUTRAL)
        self.lock = lock
        self.grant: Grant = grant
        self.scope = scope
        self._skew = float(skew_seconds)
        self.clock = clock
        # Where a set that cannot be saved goes: the given sink, else a directory.
        self.rescue: RescueSink = rescue or FileRescueSink(rescue_dir or default_rescue_dir())
        self._save_attempts = save_attempts
        self._save_backoff = save_backoff
        # Public: a quick check (doctor) tries once; a run keeps the default.
        self.refresh_attempts = refresh_attempts
        self._refresh_backoff = refresh_backoff
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        # (access token, use-until, set) in one tuple: read and replaced atomically, no lock.
        self._hot: tuple[str, float, TokenSet] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store.describe()!r}, grant={self.grant!r})"

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
        try:
            if recover is not None:
                recover()
        except NotATokenSet as exc:
            raise self._with_restore_hint(exc) from None
        return self._read_store()

    def _read_store(self) -> TokenSet | None:
        """The stored set; a store holding something else is told how to get one back."""
        try:
            return self.store.load()
        except NotATokenSet as exc:
            raise self._with_restore_hint(exc) from None

    def _with_restore_hint(self, exc: NotATokenSet) -> NotATokenSet:
        return exc.with_fix(f"it was left untouched; {restore_hint(self.rescue)}")

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
        if stored.revoked():
            raise AuthorizationRequired(revoked_reason(stored, self.store.describe()))
        if refresh_token is None:
            raise AuthorizationRequired(
                f"the token set in {self.store.describe()} has no refresh token "
                "(authorize with the offline_access scope)"
            )
        lost_answer = False
        for attempt in range(1, self.refresh_attempts + 1):
            try:
                payload = self.endpoint.refresh(refresh_token)
            except InvalidGrant:
                current = self._read_store()
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
            try:
                new = self.tokens_from(payload, previous)
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

    def tokens_from(self, payload: dict[str, Any], previous: TokenSet | None) -> TokenSet:
        """The token set of an answer; an unusable one names the provider's setting."""
        try:
            return TokenSet.from_token_response(payload, self.clock(), previous)
        except TokenEndpointError as exc:
            raise exc.for_setting(self.provider.identity_url_setting) from None

    def _retry_or_raise(self, attempt: int, exc: OAuthError, refresh_token: str) -> None:
        if attempt >= self.refresh_attempts:
            raise exc
        delay = self._refresh_backoff * 2 ** (attempt - 1)
        logger.warning(
            "refresh with %s failed (%s); re-sending the same refresh token in %.1f s "
            "(attempt %d of %d, within the grace period)",
            fingerprint_of(refresh_token),
            type(exc).__name__,
            delay,
            attempt + 1,
            self.refresh_attempts,
        )
        self._sleep(delay)

    def _rejected_reason(self, stored: TokenSet, lost_answer: bool) -> str:
        age = stored.refresh_token_age(self.clock())
        age_text = f", issued {age / 86400:.1f} days ago" if age is not None else ""
        lost = "; an earlier answer was lost and the grace period is over" if lost_answer else ""
        return (
            f"the refresh token of token set {stored.fingerprint()} in "
            f"{self.store.describe()} was rejected (invalid_grant: "
            f"{self.provider.refresh_lifetime_text()}revoked, or already used{age_text}){lost}"
        )

    def _client_credentials_locked(self, stored: TokenSet | None) -> TokenSet:
        payload = self.endpoint.client_credentials(self.scope)
        new = self.tokens_from(payload, None)
        logger.info("client_credentials: new access token %s", fingerprint_of(new.access_token))
        self._save_verified(new)
        self._remember(new)
        return new

    # -- saving ------------------------------------------------------------------------
    def _save_verified(self, tokens: TokenSet) -> None:
        """Save, read back, compare; bounded retries; rescue file when it never works."""

        def attempt() -> None:
            self.store.save(tokens)
            back = self.store.load()  # not _read_store: a restore hint is no fix mid-save
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
                "could not save token set %s: %s; rescue copy %s",
                tokens.fingerprint(),
                cause,
                rescue,
            )
            raise TokenSaveFailed(self.store.describe(), cause, rescue) from None

    def _write_rescue(self, tokens: TokenSet) -> str | Path | None:
        """Keep `tokens` in the rescue sink; the local default directory as a last resort."""
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"token-rescue-{stamp}-{tokens.fingerprint()}.json"
        sinks: list[RescueSink] = [self.rescue]
        fallback = FileRescueSink(default_rescue_dir())
        if (
            not isinstance(self.rescue, FileRescueSink)
            or self.rescue.directory != fallback.directory
        ):
            sinks.append(fallback)
        for sink in sinks:
            try:
                where = sink.write(name, tokens.to_json())
            except OSError as exc:
                logger.error("could not write the rescue copy to %s: %s", sink.describe(), exc)
                continue
            # A file sink gives a path: keep it a Path for callers that open it.
            return Path(where) if isinstance(sink, FileRescueSink) else where
        return None

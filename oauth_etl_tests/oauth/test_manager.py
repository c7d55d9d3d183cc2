from __future__ import annotations

import logging
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest

from oauth_etl.app.provider import XERO
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import (
    AuthorizationRequired,
    TokenEndpointError,
    TokenEndpointUnreachable,
    TokenSaveFailed,
    TokenStoreError,
)
from oauth_etl.oauth.locks import FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_tests.oauth.answered import OnRefreshAnswer
from oauth_etl_tests.oauth.fake_token_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    REVOCATION_URL,
    TOKEN_URL,
    FakeTokenServer,
    raise_error,
    respond,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Env:
    """A manager on a real file store and file lock, against the fake token server."""

    def __init__(self, tmp_path: Path, **manager_kwargs: object) -> None:
        self.clock = Clock()
        self.server = FakeTokenServer(now=self.clock)
        self.endpoint = TokenEndpoint(
            TOKEN_URL,
            REVOCATION_URL,
            CLIENT_ID,
            CLIENT_SECRET,
            transport=self.server.transport(),
            provider=XERO,  # the variable names and lifetime the messages are checked for
        )
        self.store = FileTokenStore(tmp_path / "store" / "token.json")
        self.lock = FileLock(self.store.lock_path, timeout=5)
        self.rescue_dir = tmp_path / "rescue"
        self.sleeps: list[float] = []
        kwargs: dict[str, object] = {
            "clock": self.clock,
            "rescue_dir": self.rescue_dir,
            "sleep": self.sleeps.append,
        }
        kwargs.update(manager_kwargs)
        self.manager = TokenManager(self.store, self.endpoint, self.lock, **kwargs)  # type: ignore[arg-type]

    def seed(self, *, expires_in: float = 1800.0) -> TokenSet:
        """A stored set, as after `oauth-etl authorize`."""
        now = self.clock.now
        tokens = TokenSet(
            access_token=f"at-seed-{'q' * 20}",
            refresh_token=self.server.issue_refresh_token(),
            expires_at=now + expires_in,
            scope="offline_access",
            token_type="Bearer",
            obtained_at=now,
            refresh_token_issued_at=now,
        )
        self.store.save(tokens)
        return tokens

    def refreshes(self) -> int:
        return self.server.grants.get("refresh_token", 0)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_no_token_set_requires_authorization(env: Env) -> None:
    with pytest.raises(AuthorizationRequired) as info:
        env.manager.access_token()
    assert "oauth-etl authorize" in str(info.value)
    assert str(env.store.path) in str(info.value)


def test_step1_cached_token_needs_no_io(env: Env) -> None:
    seeded = env.seed()
    assert env.manager.access_token() == seeded.access_token
    env.store.path.unlink()  # any store access now would fail or return None
    for _ in range(100):
        assert env.manager.access_token() == seeded.access_token
    assert env.refreshes() == 0


def test_step1_cached_path_touches_neither_store_nor_lock(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its cost per call is a benchmark figure (bench/token.py); here: no I/O at all.
    env.seed()
    manager = TokenManager(env.store, env.endpoint, env.lock)  # real clock
    env.store.save(
        TokenSet("at-fast", "rt", time.time() + 3600, "", "Bearer", time.time(), time.time())
    )
    assert manager.access_token() == "at-fast"

    def no_io(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached path did I/O")

    monkeypatch.setattr(env.store, "load", no_io)
    monkeypatch.setattr(manager, "_locked", no_io)
    assert all(manager.access_token() == "at-fast" for _ in range(1000))


def test_step3_store_reread_valid_means_no_refresh(env: Env) -> None:
    env.seed()
    env.manager.access_token()
    env.clock.now += 1600  # cache is now inside the skew
    # another process refreshed meanwhile and saved a fresh set
    fresh = TokenSet(
        "at-other-process",
        "rt-other",
        env.clock.now + 1800,
        "",
        "Bearer",
        env.clock.now,
        env.clock.now,
    )
    env.store.save(fresh)
    assert env.manager.access_token() == "at-other-process"
    assert env.refreshes() == 0


def test_step4_refresh_saves_rotated_set_and_reads_back(env: Env) -> None:
    seeded = env.seed()
    env.clock.now += 1600
    token = env.manager.access_token()
    assert token != seeded.access_token
    stored = env.store.load()
    assert stored is not None and stored.access_token == token
    assert stored.refresh_token != seeded.refresh_token
    assert stored.refresh_token_issued_at == env.clock.now
    assert env.refreshes() == 1
    assert env.manager.access_token() == token  # cached again
    assert env.refreshes() == 1


def test_threads_refresh_once(env: Env) -> None:
    env.seed(expires_in=-1)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(env.manager.access_token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert env.refreshes() == 1


def test_two_managers_share_store_and_refresh_once(tmp_path: Path) -> None:
    first = Env(tmp_path)
    first.seed(expires_in=-1)
    second = TokenManager(first.store, first.endpoint, first.lock, clock=first.clock)
    assert first.manager.access_token() == second.access_token()
    assert first.refreshes() == 1


def test_invalid_grant_after_someone_else_rotated_uses_theirs(env: Env) -> None:
    seeded = env.seed(expires_in=-1)
    # Another host (without our lock) rotated; our request reaches the server with the old
    # token after the grace period, then their fresh set lands in the store.
    env.server.valid[seeded.refresh_token] = env.clock.now - 4000  # type: ignore[index]
    theirs = TokenSet(
        "at-theirs",
        env.server.issue_refresh_token(),
        env.clock.now + 1800,
        "",
        "Bearer",
        env.clock.now,
        env.clock.now,
    )
    original = env.server.handle

    def swap_then_answer(request: httpx.Request) -> httpx.Response:
        env.store.save(theirs)
        return original(request)

    env.endpoint._http._transport = httpx.MockTransport(swap_then_answer)
    assert env.manager.access_token() == "at-theirs"
    assert env.server.invalid_grants == 1


def test_invalid_grant_with_nothing_newer_requires_authorization(env: Env) -> None:
    seeded = env.seed(expires_in=-1)
    env.server.valid.pop(seeded.refresh_token)  # type: ignore[arg-type]
    with pytest.raises(AuthorizationRequired) as info:
        env.manager.access_token()
    text = str(info.value)
    assert "invalid_grant" in text and "oauth-etl authorize" in text
    assert seeded.refresh_token not in text  # type: ignore[operator]
    assert env.store.load() == seeded  # untouched


def test_lost_answer_is_retried_with_the_same_token_in_grace(env: Env) -> None:
    seeded = env.seed(expires_in=-1)
    env.server.lost_answers = 1
    token = env.manager.access_token()
    sent = [r["refresh_token"] for r in env.server.requests]
    assert sent == [seeded.refresh_token, seeded.refresh_token]
    assert env.store.load().access_token == token  # type: ignore[union-attr]
    assert env.server.invalid_grants == 0
    assert env.sleeps == [0.5]


def test_lost_answer_after_grace_requires_authorization(env: Env) -> None:
    seeded = env.seed(expires_in=-1)
    env.server.lost_answers = 1

    def advance(seconds: float) -> None:
        env.clock.now += seconds  # the network outage outlasts the grace period

    env.manager._sleep = lambda _s: advance(2000)
    with pytest.raises(AuthorizationRequired, match="grace period is over"):
        env.manager.access_token()
    assert env.store.load() == seeded


def test_unreachable_is_bounded(env: Env) -> None:
    env.seed(expires_in=-1)
    for _ in range(5):
        env.server.script.append(raise_error(httpx.ConnectError))
    with pytest.raises(TokenEndpointUnreachable):
        env.manager.access_token()
    assert len(env.server.requests) == 3  # refresh_attempts
    assert env.sleeps == [0.5, 1.0]


def test_5xx_is_retried_and_4xx_is_not(env: Env) -> None:
    env.seed(expires_in=-1)
    env.server.script.append(respond(503, "maintenance"))
    env.manager.access_token()
    assert env.refreshes() == 1 and len(env.server.requests) == 2
    env.clock.now += 4000
    env.server.script.append(respond(400, '{"error":"weird"}'))
    with pytest.raises(TokenEndpointError):
        env.manager.access_token()


def test_200_with_bad_fields_is_retried_like_a_lost_answer(env: Env) -> None:
    seeded = env.seed(expires_in=-1)
    env.server.script.append(respond(200, '{"access_token": "x", "expires_in": "soon"}'))
    env.manager.access_token()
    sent = [r["refresh_token"] for r in env.server.requests]
    assert sent == [seeded.refresh_token, seeded.refresh_token]


class FlakyStore(FileTokenStore):
    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.saves = 0

    def save(self, tokens: TokenSet) -> None:
        self.saves += 1
        if self.failures > 0:
            self.failures -= 1
            raise TokenStoreError("disk on fire")
        super().save(tokens)


def test_save_is_retried_then_succeeds(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(expires_in=-1)
    flaky = FlakyStore(env.store.path, failures=2)
    manager = TokenManager(
        flaky,
        env.endpoint,
        env.lock,
        clock=env.clock,
        rescue_dir=env.rescue_dir,
        sleep=env.sleeps.append,
    )
    token = manager.access_token()
    assert flaky.saves == 3
    assert env.store.load().access_token == token  # type: ignore[union-attr]
    assert not env.rescue_dir.exists()


def test_save_failure_writes_rescue_file_and_restore_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = Env(tmp_path)
    seeded = env.seed(expires_in=-1)
    flaky = FlakyStore(env.store.path, failures=100)
    manager = TokenManager(
        flaky,
        env.endpoint,
        env.lock,
        clock=env.clock,
        rescue_dir=env.rescue_dir,
        sleep=env.sleeps.append,
        save_attempts=3,
    )
    caplog.set_level(logging.DEBUG, logger="oauth_etl")
    with pytest.raises(TokenSaveFailed) as info:
        manager.access_token()
    rescue = info.value.rescue_path
    assert rescue is not None and rescue.parent == env.rescue_dir
    assert stat.S_IMODE(rescue.stat().st_mode) == 0o600
    message = str(info.value)
    assert str(rescue) in message and f"oauth-etl token restore {rescue}" in message
    rescued = TokenSet.from_json(rescue.read_bytes())
    assert rescued.refresh_token != seeded.refresh_token
    for secret in (rescued.refresh_token, rescued.access_token, CLIENT_SECRET):
        assert secret is not None
        assert secret not in message
        assert secret not in caplog.text
    assert flaky.saves == 3
    assert env.store.load() == seeded  # the old set is untouched
    # restore puts the rotated set back; the next access uses it without a refresh
    restored = env.manager.restore(rescue)
    assert env.store.load() == restored == rescued
    assert env.manager.access_token() == rescued.access_token
    assert env.refreshes() == 1


def test_restore_refuses_an_older_set(env: Env, tmp_path: Path) -> None:
    old = env.seed()
    rescue = tmp_path / "old.json"
    rescue.write_bytes(old.to_json())
    env.clock.now += 10
    env.seed()
    with pytest.raises(TokenStoreError, match="newer"):
        env.manager.restore(rescue)
    assert env.manager.restore(rescue, force=True) == old


def test_read_back_mismatch_counts_as_failure(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(expires_in=-1)

    class LyingStore(FileTokenStore):
        def save(self, tokens: TokenSet) -> None:  # acknowledges, stores nothing
            pass

    manager = TokenManager(
        LyingStore(env.store.path),
        env.endpoint,
        env.lock,
        clock=env.clock,
        rescue_dir=env.rescue_dir,
        sleep=env.sleeps.append,
    )
    with pytest.raises(TokenSaveFailed, match="read-back"):
        manager.access_token()


def test_forced_refresh_skips_when_someone_rotated_past_stale_token(env: Env) -> None:
    env.seed()
    stale = env.manager.access_token()
    fresh = env.manager.refresh(force=True, stale_access_token=stale)
    assert fresh.access_token != stale and env.refreshes() == 1
    again = env.manager.refresh(force=True, stale_access_token=stale)  # a second 401 on old token
    assert again == fresh and env.refreshes() == 1
    # a different process: its cache is empty, the store already moved past the stale token
    other = TokenManager(env.store, env.endpoint, env.lock, clock=env.clock)
    assert other.refresh(force=True, stale_access_token=stale) == fresh
    assert env.refreshes() == 1
    env.manager.refresh(force=True)
    assert env.refreshes() == 2


def test_refresh_not_forced_uses_valid_store(env: Env) -> None:
    seeded = env.seed()
    assert env.manager.refresh(force=False) == seeded
    assert env.refreshes() == 0


def test_a_refresh_answer_arrives_before_anything_is_saved(env: Env) -> None:
    # The crash workers kill a process at this moment (oauth_etl_tests/oauth/answered.py).
    seeded = env.seed(expires_in=-1)
    seen: list[TokenSet | None] = []
    spied = OnRefreshAnswer(env.endpoint, lambda _payload: seen.append(env.store.load()))
    manager = TokenManager(env.store, spied, env.lock, clock=env.clock)
    manager.access_token()
    assert seen == [seeded]


def test_status_reports_without_tokens(env: Env) -> None:
    assert not env.manager.status().present
    assert "oauth-etl authorize" in "\n".join(env.manager.status().lines())
    seeded = env.seed()
    env.clock.now += 10 * 86400
    status = env.manager.status()
    assert status.present and not status.access_valid
    assert status.refresh_days_left == pytest.approx(50.0)
    text = repr(status) + "\n".join(status.lines())
    assert seeded.refresh_token not in text and seeded.access_token not in text  # type: ignore[operator]
    assert "50.0 days left" in text


def test_import_refresh_token_refreshes_at_once(env: Env) -> None:
    rt = env.server.issue_refresh_token()
    tokens = env.manager.import_refresh_token(rt)
    assert tokens.refresh_token != rt and tokens.access_token
    assert env.store.load() == tokens
    assert env.manager.access_token() == tokens.access_token
    with pytest.raises(ValueError):
        env.manager.import_refresh_token(" padded ")


def test_import_of_a_bad_refresh_token_keeps_the_store(env: Env) -> None:
    seeded = env.seed()
    with pytest.raises(AuthorizationRequired, match="not changed"):
        env.manager.import_refresh_token("never-issued-refresh-token")
    assert env.store.load() == seeded


def test_store_initial_and_current(env: Env) -> None:
    tokens = env.seed()
    env.store.path.unlink()
    env.manager.store_initial(tokens)
    assert env.manager.current() == tokens


def test_client_credentials_grant(tmp_path: Path) -> None:
    env = Env(tmp_path, grant="client_credentials", scope="accounting.invoices.read")
    first = env.manager.access_token()
    assert env.server.grants == {"client_credentials": 1}
    assert env.store.load().refresh_token is None  # type: ignore[union-attr]
    env.clock.now += 1700
    second = env.manager.access_token()
    assert second != first and env.server.grants == {"client_credentials": 2}
    assert env.server.requests[-1]["scope"] == "accounting.invoices.read"


def test_bad_configuration_is_rejected(env: Env) -> None:
    with pytest.raises(ValueError):
        TokenManager(env.store, env.endpoint, env.lock, grant="implicit")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TokenManager(env.store, env.endpoint, env.lock, save_attempts=0)

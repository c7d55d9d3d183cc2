"""RateBudget and AppBudget: burst then pace, reported headroom, 429s, day limit, in flight."""

from __future__ import annotations

import threading
import time

import pytest

from oauth_etl.xero.errors import DayLimitReached, RateLimited
from oauth_etl.xero.rate import AppBudget, RateBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += seconds


def budget(clock: FakeClock, **kwargs: object) -> RateBudget:
    return RateBudget("t1", clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def starts_of(b: RateBudget, n: int) -> list[float]:
    out = []
    for _ in range(n):
        with b.slot("Invoices") as started:
            out.append(started)
    return out


def most_in_any_window(starts: list[float], width: float) -> int:
    return max(sum(1 for t in starts if s <= t < s + width) for s in starts)


def test_bursts_the_minute_then_paces_within_a_rolling_window() -> None:
    clock = FakeClock()
    b = budget(clock)
    starts = starts_of(b, 200)
    # The whole minute at once (one call kept spare for other callers)...
    assert starts[:59] == [1000.0] * 59
    # ...then the 60th waits until the first has left the (margined) window.
    assert starts[59] == pytest.approx(1000.0 + b.horizon)
    # No 60 s window, wherever Xero's fixed windows fall, ever holds more than 59 starts.
    assert most_in_any_window(starts, 60.0) == 59
    # 200 calls are four bursts of at most 59, one margined window apart: the 60-a-minute
    # bound within the margin, never slower.
    assert starts[-1] - starts[0] == pytest.approx(3 * b.horizon)


def test_a_short_run_never_waits() -> None:
    clock = FakeClock()
    b = budget(clock)
    starts_of(b, 30)
    assert clock.sleeps == []
    assert b.snapshot()["waited_seconds"] == 0


def test_other_callers_reported_by_the_server_shrink_our_share() -> None:
    clock = FakeClock()
    b = budget(clock)
    (first,) = starts_of(b, 1)
    # Xero counted 30 calls in this window; one was ours: others spent 29.
    b.observe({"X-MinLimit-Remaining": "30", "X-DayLimit-Remaining": "4000"}, first)
    starts = starts_of(b, 30)
    # 59 - 29 = 30 of ours fit (one already made): 29 at once, the 30th after the window.
    assert starts[:29] == [1000.0] * 29
    assert starts[29] == pytest.approx(first + b.horizon)
    snap = b.snapshot()
    assert snap["day_remaining"] == 4000 - 30
    assert snap["calls"] == 31


def test_a_spent_minute_reported_by_the_server_waits_for_its_window() -> None:
    clock = FakeClock()
    b = budget(clock)
    (first,) = starts_of(b, 1)
    b.observe({"X-MinLimit-Remaining": "0"}, first)  # others spent the rest
    (second,) = starts_of(b, 1)
    assert second == pytest.approx(first + b.horizon)


def test_stale_or_out_of_order_reports_are_ignored() -> None:
    clock = FakeClock()
    b = budget(clock)
    first = b.acquire()
    b.release()
    clock.now += 0.001
    second = b.acquire()
    b.release()
    b.observe({"X-MinLimit-Remaining": "50"}, second)
    b.observe({"X-MinLimit-Remaining": "0"}, first)  # older call answered last
    assert b.snapshot()["minute_remaining"] == 50
    clock.now += 61  # the window the report described has passed
    b.observe({"X-MinLimit-Remaining": "0"}, first)
    before = clock.now
    b.acquire()
    b.release()
    assert clock.now - before < 1e-9


def test_minute_429_holds_everyone_for_retry_after() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.acquire()
    b.release()
    t0 = clock.now
    b.minute_limited(7.0, "Invoices")
    b.acquire()
    b.release()
    assert clock.now - t0 >= 7.0
    assert b.snapshot()["rate_limited"] == 1


def test_retry_after_supersedes_the_429s_zero_remainder() -> None:
    clock = FakeClock()
    b = budget(clock)
    (first,) = starts_of(b, 1)
    b.observe({"X-MinLimit-Remaining": "0"}, first)  # the 429's own headers
    b.minute_limited(2.0, "Invoices")
    (second,) = starts_of(b, 1)
    assert second == pytest.approx(first + 2.0)


def test_minute_429_asking_too_long_raises_rate_limited() -> None:
    b = budget(FakeClock(), max_wait=30.0)
    with pytest.raises(RateLimited, match="more than this run may wait"):
        b.minute_limited(3600.0, "Invoices", "corr-1")


def test_day_limit_from_429_or_headers_fails_fast_afterwards() -> None:
    clock = FakeClock()
    b = budget(clock)
    error = b.day_limited(5000.0, "Invoices", "corr-9")
    assert isinstance(error, DayLimitReached)
    with pytest.raises(DayLimitReached):
        b.acquire("Contacts")
    assert b.snapshot()["in_flight"] == 0

    b2 = budget(clock)
    started = b2.acquire()
    b2.release()
    b2.observe({"X-DayLimit-Remaining": "0"}, started)
    with pytest.raises(DayLimitReached, match="daily call limit"):
        b2.acquire()


def test_never_more_than_max_in_flight_across_threads() -> None:
    b = RateBudget("t1", window_seconds=0.05, per_minute=1000, max_in_flight=5)
    lock = threading.Lock()
    current = peak = 0

    def worker() -> None:
        nonlocal current, peak
        for _ in range(10):
            with b.slot():
                with lock:
                    current += 1
                    peak = max(peak, current)
                time.sleep(0.002)
                with lock:
                    current -= 1

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 5
    assert b.snapshot()["max_in_flight_seen"] == 5
    assert b.snapshot()["calls"] == 120


def test_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        RateBudget(per_minute=0)


def test_the_app_budget_caps_every_tenant_of_the_process_together() -> None:
    clock = FakeClock()
    app = AppBudget(per_minute=100, reserve_fraction=0.1)
    tenants = [budget(clock, app=app) for _ in range(3)]
    starts: list[float] = []
    for _ in range(60):
        for b in tenants:
            with b.slot() as started:
                starts.append(started)
    # 100 a minute for the app, 10 kept for other processes: 90 in any window.
    assert most_in_any_window(starts, 60.0) == 90
    assert sum(1 for t in starts if t == 1000.0) == 90


def test_app_calls_reported_by_other_processes_hold_us_back() -> None:
    clock = FakeClock()
    app = AppBudget(per_minute=10_000)
    b = budget(clock, app=app)
    (first,) = starts_of(b, 1)
    # Other processes spent the app's minute down to its reserve.
    b.observe({"X-MinLimit-Remaining": "59", "X-AppMinLimit-Remaining": "1000"}, first)
    (second,) = starts_of(b, 1)
    assert second == pytest.approx(first + b.horizon)
    # A larger remainder than the documented limit teaches the limit.
    app.observe(19_999, second)
    assert app.left(clock.now) > 10_000

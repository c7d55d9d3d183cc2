"""RateBudget: smooth pacing, server-reported headroom, 429s, day limit, in-flight cap."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from oauth_etl.xero.errors import DayLimitReached, RateLimited
from oauth_etl.xero.rate import RateBudget


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


def test_starts_are_spaced_smoothly_never_a_burst() -> None:
    clock = FakeClock()
    b = budget(clock)
    starts = []
    for _ in range(121):
        with b.slot("Invoices") as started:
            starts.append(started)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= b.interval - 1e-9
    # Any 60 s window holds fewer than 60 starts...
    assert all(sum(1 for t in starts if s <= t < s + 60) < 60 for s in starts)
    # ...and the pace is within 5 % of 60 a minute (the 1.15x target leaves room for latency).
    assert (starts[-1] - starts[0]) / 120 == pytest.approx(1.03, rel=0.01)


def test_server_reported_headroom_slows_us_down_for_other_callers() -> None:
    clock = FakeClock()
    b = budget(clock)
    started = b.acquire("Invoices")
    b.release()
    # Plenty left: only the normal spacing.
    b.observe({"X-MinLimit-Remaining": "30"}, started)
    before = clock.now
    started = b.acquire("Invoices")
    b.release()
    assert clock.now - before == pytest.approx(b.interval)
    # Another process has spent the minute: nothing left after our call.
    b.observe({"X-MinLimit-Remaining": "0", "X-DayLimit-Remaining": "4000"}, started)
    before = clock.now
    b.acquire("Invoices")
    b.release()
    # Keeping min_reserve=1 spare, two calls must age out first (one per interval).
    assert clock.now - before >= b.interval * 2 - 1e-9
    snap = b.snapshot()
    assert snap["day_remaining"] == 3999
    assert snap["calls"] == 3


def test_stale_or_out_of_order_reports_are_ignored() -> None:
    clock = FakeClock()
    b = budget(clock)
    first = b.acquire()
    b.release()
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

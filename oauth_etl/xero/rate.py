"""Per-tenant call budget: 5 in flight, 60 a minute, the day's allowance.

Pacing is smooth: call starts are spaced `window / per_minute * (1 + margin)`
apart (about 1.03 s), so a long extraction runs at ~58 calls a minute and never
bursts 60 and then meets a 429. Each caller reserves the next free start time
under a lock and sleeps outside it, so concurrent workers queue in order.

Other processes spend the same tenant's budget, so every response's
`X-MinLimit-Remaining` / `X-DayLimit-Remaining` is taken into account: the
remaining count reported for a call, minus the calls we started after it, is
what is left. When that runs out we assume the other callers' calls age out of
the minute window at the same pace as ours (one per interval since the report)
and wait accordingly; if the guess is wrong Xero answers a minute 429 and we wait
its `Retry-After` (bounded). A day 429, or a reported day remainder of zero,
raises `DayLimitReached`: the caller stops and resumes on the next run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from oauth_etl.xero.errors import DayLimitReached, RateLimited

MIN_REMAINING = "X-MinLimit-Remaining"
DAY_REMAINING = "X-DayLimit-Remaining"
APP_MIN_REMAINING = "X-AppMinLimit-Remaining"


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@dataclass
class _Report:
    """The remaining counts reported for the call that started at `started`."""

    started: float
    remaining: int


class RateBudget:
    """Thread-safe call budget for one tenant. Share one per tenant per process."""

    def __init__(
        self,
        tenant_id: str = "",
        *,
        per_minute: int = 60,
        max_in_flight: int = 5,
        window_seconds: float = 60.0,
        margin: float = 0.03,
        min_reserve: int = 1,
        day_reserve: int = 0,
        max_wait: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1 or max_in_flight < 1 or window_seconds <= 0:
            raise ValueError("per_minute, max_in_flight and window_seconds must be positive")
        self.tenant_id = tenant_id
        self.per_minute = per_minute
        self.max_in_flight = max_in_flight
        self.window = window_seconds
        self.interval = window_seconds / per_minute * (1.0 + margin)
        self.min_reserve = min_reserve
        self.day_reserve = day_reserve
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._starts: deque[float] = deque()  # reserved start times, ascending
        self._last_start = float("-inf")
        self._blocked_until = float("-inf")
        self._block_generation = 0
        self._minute: _Report | None = None
        self._day: _Report | None = None
        self._app_min_remaining: int | None = None
        self._day_exhausted_retry_after: float | None = None
        self._day_exhausted = False
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self.rate_limited = 0
        self.waited_seconds = 0.0

    # -- acquiring ---------------------------------------------------------------------------

    @contextmanager
    def slot(self, endpoint: str = "") -> Iterator[float]:
        """Hold one in-flight slot, started at a paced time; yields the start time."""
        started = self.acquire(endpoint)
        try:
            yield started
        finally:
            self.release()

    def acquire(self, endpoint: str = "") -> float:
        """Block until a call may start; returns its start time on the budget's clock."""
        self._slots.acquire()
        try:
            started = self._wait_for_start(endpoint)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        return started

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1
        self._slots.release()

    def _wait_for_start(self, endpoint: str) -> float:
        while True:
            with self._lock:
                self._check_day(endpoint)
                now = self._clock()
                start = self._plan(now)
                self._starts.append(start)
                self._last_start = start
                generation = self._block_generation
            if start > now:
                self._sleep(start - now)
                with self._lock:
                    self.waited_seconds += start - now
            with self._lock:
                if generation == self._block_generation:
                    return start
                # A 429 arrived while we slept: give the slot back and queue behind the block.
                self._starts.remove(start)

    def _plan(self, now: float) -> float:
        """The earliest start time that keeps every known limit (lock held)."""
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()
        start = max(now, self._last_start + self.interval, self._blocked_until)
        if len(self._starts) >= self.per_minute:
            # Our own sliding window is full: wait until its oldest call ages out.
            start = max(start, self._starts[-self.per_minute] + self.window)
        report = self._minute
        if report is not None:
            if now - report.started >= self.window:
                self._minute = None  # stale: the window it described is gone
            else:
                since = sum(1 for t in self._starts if t > report.started)
                shortfall = since - (report.remaining - self.min_reserve) + 1
                if shortfall > 0:
                    # Assume calls age out one per interval since the report (see module doc).
                    start = max(start, report.started + shortfall * self.interval)
        return start

    def _check_day(self, endpoint: str) -> None:
        if self._day_exhausted:
            raise DayLimitReached(endpoint, retry_after=self._day_exhausted_retry_after)
        report = self._day
        if report is None:
            return
        since = sum(1 for t in self._starts if t > report.started)
        if report.remaining - since <= self.day_reserve:
            self._day_exhausted = True
            raise DayLimitReached(endpoint, retry_after=None)

    # -- learning from responses -------------------------------------------------------------

    def observe(self, headers: Mapping[str, str], started: float) -> None:
        """Record the remaining counts a response reported; `started` is from `acquire`."""
        minute = _header_int(headers, MIN_REMAINING)
        day = _header_int(headers, DAY_REMAINING)
        app = _header_int(headers, APP_MIN_REMAINING)
        with self._lock:
            # Responses finish out of order: keep the report of the latest-started call.
            if minute is not None and (self._minute is None or started >= self._minute.started):
                self._minute = _Report(started, minute)
            if day is not None and (self._day is None or started >= self._day.started):
                self._day = _Report(started, day)
            if app is not None:
                self._app_min_remaining = app

    def minute_limited(
        self, retry_after: float | None, endpoint: str, correlation_id: str | None = None
    ) -> None:
        """A minute (or app-minute) 429: hold every caller back for Retry-After.

        Raises `RateLimited` when Xero asks for longer than `max_wait`.
        """
        wait = retry_after if retry_after is not None else self.window
        with self._lock:
            self.rate_limited += 1
            if wait > self.max_wait:
                raise RateLimited(
                    endpoint,
                    retry_after=retry_after,
                    problem="minute",
                    correlation_id=correlation_id,
                )
            self._blocked_until = max(self._blocked_until, self._clock() + wait)
            self._block_generation += 1

    def day_limited(
        self, retry_after: float | None, endpoint: str, correlation_id: str | None = None
    ) -> DayLimitReached:
        """A day 429: every later acquire fails fast. Returns the error to raise."""
        with self._lock:
            self.rate_limited += 1
            self._day_exhausted = True
            self._day_exhausted_retry_after = retry_after
        return DayLimitReached(endpoint, retry_after=retry_after, correlation_id=correlation_id)

    # -- reporting ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, int | float | bool | None]:
        """Headroom and counters, for run metadata."""
        with self._lock:
            now = self._clock()

            def left(report: _Report | None) -> int | None:
                if report is None:
                    return None
                return report.remaining - sum(1 for t in self._starts if t > report.started)

            minute = (
                self._minute if self._minute and now - self._minute.started < self.window else None
            )
            return {
                "minute_remaining": left(minute),
                "day_remaining": left(self._day),
                "app_minute_remaining": self._app_min_remaining,
                "day_exhausted": self._day_exhausted,
                "calls": self.calls,
                "in_flight": self.in_flight,
                "max_in_flight_seen": self.max_in_flight_seen,
                "rate_limited": self.rate_limited,
                "waited_seconds": round(self.waited_seconds, 3),
            }

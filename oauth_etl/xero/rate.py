"""Call budgets: per tenant 5 in flight and 60 a minute, the day's allowance, and the app's
10,000 a minute across tenants.

Burst, then pace. Xero's minute windows are fixed per tenant and reset at times we cannot
see (developer.xero.com/faq/limits: "at the start of a minute the whole budget may be
spent"), so a short run may spend the whole minute at once, 5 in flight. What keeps us
clear of a 429 is a rolling window of our own call starts: at most `per_minute -
min_reserve` starts in any `window * (1 + margin)` seconds. A rolling window that long
contains any fixed window Xero counts in, with `margin` (1.8 s a minute) covering the
difference between a call's start here and its arrival there.

Other processes spend the same budgets, and Xero tells us how much is left on every response
(`X-MinLimit-Remaining`, `X-DayLimit-Remaining`, `X-AppMinLimit-Remaining`;
developer.xero.com/documentation/guides/oauth2/limits). From a report at the start of call
`s` we estimate what the others used: the calls the server counted, minus ours started in
the window up to `s` (an underestimate only by our calls still travelling, at most
`max_in_flight - 1`, which `min_reserve` absorbs). Until that window is surely gone (`s +
window * (1 + margin)`) our cap shrinks by the others' share. A day 429, or a reported day
remainder at the reserve, raises `DayLimitReached`: the caller stops and resumes on the next
run. A minute 429 (our estimate was wrong) holds every caller for its `Retry-After`, bounded
by `max_wait`.

The app budget (`AppBudget`) works the same way over every tenant's calls in this process,
with a larger reserve: other processes (one run per tenant) decide at the same time from
reports one call old, so the reserve must cover their calls in flight (10 % of 10,000 is
200 tenants at 5 in flight).
"""

from __future__ import annotations

import bisect
import math
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
# Xero's documented app-wide limit (developer.xero.com/documentation/guides/oauth2/limits);
# learned upwards from reports.
APP_PER_MINUTE = 10_000


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
    """The remaining count reported for the call that started at `started`."""

    started: float
    remaining: int


class _Window:
    """Our own call starts in a rolling window, and the latest server report about it."""

    def __init__(self, limit: int, reserve: int, horizon: float) -> None:
        self.limit = limit
        self.reserve = reserve
        self.horizon = horizon
        self.starts: deque[float] = deque()  # ascending
        self.report: _Report | None = None

    def prune(self, now: float) -> None:
        while self.starts and self.starts[0] <= now - self.horizon:
            self.starts.popleft()
        if self.report is not None and now - self.report.started >= self.horizon:
            self.report = None  # the window it described is gone

    def add(self, start: float) -> None:
        # A start planned later may still be earlier than one planned before it (a fresh
        # report can raise the cap): keep the window sorted.
        bisect.insort(self.starts, start)

    def observe(self, remaining: int, started: float) -> None:
        # Responses finish out of order: keep the report of the latest-started call.
        if self.report is None or started >= self.report.started:
            self.report = _Report(started, remaining)

    def others(self) -> int:
        """Calls the latest report shows that are not ours (0 without a report)."""
        report = self.report
        if report is None:
            return 0
        # Ours before the reported call, and the call itself. Calls started at the very same
        # instant count as others: a tie can only make us slower, never over the limit.
        # `starts` is sorted (see add): a bisection, not a scan of up to 10,000 app starts
        # on every acquire.
        ours = bisect.bisect_left(self.starts, report.started) + 1
        return max(0, (self.limit - report.remaining) - ours)

    def earliest(self, now: float) -> float:
        """The earliest start that keeps this window within its limit (caller holds a lock)."""
        self.prune(now)
        cap = self.limit - self.reserve - self.others()
        if cap <= 0:
            assert self.report is not None  # others() > 0 needs a report
            return max(now, self.report.started + self.horizon)
        if len(self.starts) >= cap:
            return max(now, self.starts[-cap] + self.horizon)
        return now

    def left(self, now: float) -> int:
        self.prune(now)
        return max(0, self.limit - self.others() - len(self.starts))


class AppBudget:
    """The app's calls a minute across every tenant in this process. Share one per process."""

    def __init__(
        self,
        *,
        per_minute: int = APP_PER_MINUTE,
        reserve_fraction: float = 0.10,
        window_seconds: float = 60.0,
        margin: float = 0.03,
    ) -> None:
        if per_minute < 1 or window_seconds <= 0 or not 0 <= reserve_fraction < 1:
            raise ValueError("per_minute and window_seconds must be positive, reserve in [0, 1)")
        self.reserve_fraction = reserve_fraction
        self._lock = threading.Lock()
        self._window = _Window(per_minute, self._reserve(per_minute), window_seconds * (1 + margin))

    def _reserve(self, limit: int) -> int:
        return max(1, math.ceil(limit * self.reserve_fraction))

    def earliest(self, now: float) -> float:
        with self._lock:
            return self._window.earliest(now)

    def record(self, start: float) -> None:
        with self._lock:
            self._window.add(start)

    def forget(self, start: float) -> None:
        with self._lock:
            if start in self._window.starts:
                self._window.starts.remove(start)

    def observe(self, remaining: int, started: float) -> None:
        with self._lock:
            window = self._window
            if remaining + 1 > window.limit:  # a larger app limit than we assumed
                window.limit = remaining + 1
                window.reserve = self._reserve(window.limit)
            window.observe(remaining, started)

    def left(self, now: float) -> int:
        with self._lock:
            return self._window.left(now)


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
        app: AppBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1 or max_in_flight < 1 or window_seconds <= 0:
            raise ValueError("per_minute, max_in_flight and window_seconds must be positive")
        self.tenant_id = tenant_id
        self.per_minute = per_minute
        self.max_in_flight = max_in_flight
        self.window = window_seconds
        self.horizon = window_seconds * (1.0 + margin)
        self.day_reserve = day_reserve
        self.max_wait = max_wait
        self.app = app if app is not None else AppBudget(window_seconds=window_seconds)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._minute = _Window(per_minute, min_reserve, self.horizon)
        self._blocked_until = float("-inf")
        self._block_generation = 0
        self._day: _Report | None = None
        self._day_since = 0  # our starts reserved after the reported call
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
        """Hold one in-flight slot, started within every budget; yields the start time."""
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
                start = max(self._minute.earliest(now), self.app.earliest(now), self._blocked_until)
                # Reserve the start now so that callers queue in order behind it.
                self._minute.add(start)
                self.app.record(start)
                self._day_since += 1
                generation = self._block_generation
            if start > now:
                self._sleep(start - now)
                with self._lock:
                    self.waited_seconds += start - now
            with self._lock:
                if generation == self._block_generation:
                    return start
                # A 429 arrived while we slept: give the start back and queue behind the block.
                self._minute.starts.remove(start)
                self.app.forget(start)
                self._day_since -= 1

    def _check_day(self, endpoint: str) -> None:
        if self._day_exhausted:
            raise DayLimitReached(endpoint, retry_after=self._day_exhausted_retry_after)
        report = self._day
        if report is None:
            return
        if report.remaining - self._day_since <= self.day_reserve:
            self._day_exhausted = True
            raise DayLimitReached(endpoint, retry_after=None)

    # -- learning from responses -------------------------------------------------------------

    def observe(self, headers: Mapping[str, str], started: float) -> None:
        """Record the remaining counts a response reported; `started` is from `acquire`."""
        minute = _header_int(headers, MIN_REMAINING)
        day = _header_int(headers, DAY_REMAINING)
        app = _header_int(headers, APP_MIN_REMAINING)
        with self._lock:
            if minute is not None:
                self._minute.observe(minute, started)
            if day is not None and (self._day is None or started >= self._day.started):
                self._day = _Report(started, day)
                # Ties count as after the reported call: the estimate errs towards stopping.
                self._day_since = max(0, sum(1 for t in self._minute.starts if t >= started) - 1)
        if app is not None:
            self.app.observe(app, started)

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
            # Retry-After says when the window resets: it supersedes the remainder of 0 that
            # came with the 429, which would otherwise hold us for a whole window.
            self._minute.report = None

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
            day_left = None if self._day is None else self._day.remaining - self._day_since
            return {
                "minute_remaining": self._minute.left(now),
                "day_remaining": day_left,
                "app_minute_remaining": self.app.left(now),
                "day_exhausted": self._day_exhausted,
                "calls": self.calls,
                "in_flight": self.in_flight,
                "max_in_flight_seen": self.max_in_flight_seen,
                "rate_limited": self.rate_limited,
                "waited_seconds": round(self.waited_seconds, 3),
            }

"""Xero's rate limits, per tenant and per app.

Xero limits each tenant to 5 calls in flight, 60 a minute and a day budget that
depends on the app's tier since 2 March 2026 (`TIER_DAY_LIMITS`), and an app to
10,000 a minute across tenants (developer.xero.com/faq/limits, which still says 5,000
a day for every app: the figure of Core and above). The sandbox uses rolling windows (each call
counts for 60 s, resp. 24 h, after it started), on the scaled limit clock, so
`--time-scale` shortens minutes and days alike. Rejected calls do not count.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from oauth_etl_dev.sandbox.clock import SandboxClock
from oauth_etl_dev.sandbox.config import SandboxConfig
from oauth_etl_dev.sandbox.stats import Stats

MINUTE = 60.0
DAY = 86_400.0

# Calls a day per tenant by app tier since 2 March 2026: Starter 1,000; Core and above
# 5,000 (xero.com pricing pages, and third-party summaries of them;
# developer.xero.com/faq/limits gives 5,000 for every app).
TIER_DAY_LIMITS: dict[str, int] = {
    "starter": 1000,
    "core": 5000,
    "plus": 5000,
    "advanced": 5000,
    "enterprise": 5000,
}


def tier_day_limit(tier: str) -> int:
    """The day limit of a tier name (case-insensitive)."""
    try:
        return TIER_DAY_LIMITS[tier.strip().lower()]
    except KeyError:
        known = ", ".join(TIER_DAY_LIMITS)
        raise ValueError(f"unknown tier {tier!r}; known: {known}") from None


@dataclass
class Rejection:
    problem: str  # the X-Rate-Limit-Problem value
    retry_after: int  # client seconds


@dataclass
class _TenantWindow:
    minute: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)
    in_flight: int = 0


class RateLimiter:
    def __init__(self, config: SandboxConfig, clock: SandboxClock, stats: Stats) -> None:
        self.config = config
        self.clock = clock
        self.stats = stats
        self.tenants: dict[str, _TenantWindow] = {}
        self.app_minute: deque[float] = deque()

    def reset(self) -> None:
        self.tenants = {}
        self.app_minute = deque()

    def _window(self, tenant: str) -> _TenantWindow:
        window = self.tenants.get(tenant)
        if window is None:
            window = self.tenants[tenant] = _TenantWindow()
        return window

    def _prune(self, now: float, window: _TenantWindow | None) -> None:
        while self.app_minute and self.app_minute[0] <= now - MINUTE:
            self.app_minute.popleft()
        if window is not None:
            while window.minute and window.minute[0] <= now - MINUTE:
                window.minute.popleft()
            while window.day and window.day[0] <= now - DAY:
                window.day.popleft()

    def _retry(self, sandbox_seconds: float) -> int:
        return max(1, math.ceil(self.clock.to_client_seconds(sandbox_seconds)))

    def acquire(self, tenant: str) -> Rejection | None:
        """Count a call that starts now, or say which limit it breaks."""
        cfg = self.config
        now = self.clock.limit_now()
        window = self._window(tenant)
        self._prune(now, window)
        if cfg.limits:
            rejection: Rejection | None = None
            if window.in_flight >= cfg.concurrent_limit:
                rejection = Rejection("concurrent", 1)
            elif len(window.day) >= cfg.day_limit:
                rejection = Rejection("day", self._retry(window.day[0] + DAY - now))
            elif len(self.app_minute) >= cfg.app_minute_limit:
                rejection = Rejection("appminute", self._retry(self.app_minute[0] + MINUTE - now))
            elif len(window.minute) >= cfg.minute_limit:
                rejection = Rejection("minute", self._retry(window.minute[0] + MINUTE - now))
            if rejection is not None:
                self.stats.rate_limited[rejection.problem] += 1
                return rejection
        window.minute.append(now)
        window.day.append(now)
        self.app_minute.append(now)
        window.in_flight += 1
        if window.in_flight > self.stats.max_in_flight[tenant]:
            self.stats.max_in_flight[tenant] = window.in_flight
        return None

    def release(self, tenant: str) -> None:
        self._window(tenant).in_flight -= 1

    def headers(self, tenant: str | None) -> dict[str, str]:
        """The remaining-budget headers (only the app one without a tenant)."""
        cfg = self.config
        now = self.clock.limit_now()
        window = self._window(tenant) if tenant is not None else None
        self._prune(now, window)
        out = {"X-AppMinLimit-Remaining": str(max(0, cfg.app_minute_limit - len(self.app_minute)))}
        if window is not None:
            out["X-DayLimit-Remaining"] = str(max(0, cfg.day_limit - len(window.day)))
            out["X-MinLimit-Remaining"] = str(max(0, cfg.minute_limit - len(window.minute)))
        return out

    def fault_retry_after(self, problem: str, seconds: float | None) -> int:
        """Retry-After for an injected limit fault: given, or the window's length."""
        if seconds is not None:
            return max(1, math.ceil(seconds))
        return self._retry(DAY if problem == "day" else MINUTE)

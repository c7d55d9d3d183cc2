"""Small runs: a daily incremental of one tenant (one call per endpoint) in real time.

Xero lets a tenant spend its 60 calls a minute at once, 5 in flight (limits FAQ), so a run
of C <= 59 calls with latency L is bounded by ceil(C / 5) x L, not by the minute. Ours
bursts within the minute budget; the baseline is the previous budget, which spaced every
call start 1.03 s apart whatever the budget left (kept here as `SpacedBudget`).
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import BenchResult, Figure, calls_by_endpoint, rate_limited, stack
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.xero.catalog import CATALOG
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.rate import RateBudget

LATENCY_MS = 150.0
RECORDS = 40  # a few changes per endpoint: one call each
TARGET = 1.2


class SpacedBudget(RateBudget):
    """The previous pacing: call starts at least `window / per_minute * 1.03` apart."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(tenant_id)
        self.spacing = self.window / self.per_minute * 1.03
        self._next = 0.0
        self._spacing_lock = threading.Lock()

    def acquire(self, endpoint: str = "") -> float:
        with self._spacing_lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.spacing
        time.sleep(max(0.0, start - now))
        return super().acquire(endpoint)


def _extract_all(url: str, auth: BearerAuth, tenant: str, spaced: bool) -> float:
    factory = SpacedBudget if spaced else None
    with XeroClient(url, auth, budget_factory=factory) as client:
        started = time.perf_counter()

        def one(endpoint: object) -> int:
            return sum(1 for _ in client.extract(endpoint, tenant))  # type: ignore[arg-type]

        with ThreadPoolExecutor(5) as pool:
            list(pool.map(one, CATALOG))
        return time.perf_counter() - started


def run(quick: bool) -> BenchResult:
    result = BenchResult("smallrun")
    flags = ["--records", str(RECORDS), "--latency-ms", str(LATENCY_MS)]
    with stack(flags, label="smallrun") as s:
        tenant = s.tenants()[0]
        auth = BearerAuth(s.oauth.token_manager())
        _extract_all(s.url, auth, tenant, spaced=False)  # build the sandbox's tables
        time.sleep(61)  # a fresh minute for the measured runs
        before = s.stats()
        ours = _extract_all(s.url, auth, tenant, spaced=False)
        after = s.stats()
        calls = sum(calls_by_endpoint(before, after, tenant).values())
        ours_429 = rate_limited(before, after)
        time.sleep(61)
        before = s.stats()
        spaced = _extract_all(s.url, auth, tenant, spaced=True)
        spaced_429 = rate_limited(before, s.stats())
    bound = math.ceil(calls / 5) * LATENCY_MS / 1000.0
    result.figures += [
        Figure(
            "smallrun",
            f"daily run, {calls} calls, {LATENCY_MS:g} ms latency",
            round(ours, 2),
            round(spaced, 2),
            "s",
        ),
        Figure(
            "smallrun",
            f"ours / latency bound (ceil(C/5) x L = {bound:.2f} s)",
            round(ours / bound, 3),
            round(spaced / bound, 3),
            "x",
            target=f"<= {TARGET}",
            met=ours / bound <= TARGET,
            ratio=None,
        ),
        Figure(
            "smallrun",
            "429 responses",
            ours_429,
            spaced_429,
            "count",
            target="0",
            met=ours_429 == 0,
            ratio=None,
        ),
    ]
    result.lines.append(
        f"smallrun: baseline = the previous budget (starts spaced 1.03 s); {calls} calls"
    )
    return result

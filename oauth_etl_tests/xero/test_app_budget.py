"""The app-wide minute budget across tenants extracted side by side, on the sandbox.

Each tenant gets its own client and budgets, as one run process per tenant would: they
share nothing but what Xero reports in `X-AppMinLimit-Remaining`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from oauth_etl.xero.catalog import endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.rate import AppBudget, RateBudget
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle
from oauth_etl_tests.xero.test_sandbox import authorize

SCALE = 60.0  # a sandbox minute lasts 1 s
MINUTE = 60.0 / SCALE
TENANTS = 3
RECORDS = 600  # 30 pages of 20 per tenant: 90 calls against an app limit of 20


# The margin covers the spread between a call's start here and its arrival there (rate.py).
# The time scale shrinks the minute 60-fold but not this machine's scheduling jitter under
# load, so the scaled margin is set back up: 250 ms of a 1 s minute (Xero: 1.8 s of 60 s).
MARGIN = 0.25


def app_budget() -> AppBudget:
    # The reserve covers the other "processes" in flight: 3 tenants x 5 = 15 of 20.
    return AppBudget(per_minute=20, window_seconds=MINUTE, reserve_fraction=0.75, margin=MARGIN)


class IgnoresTheApp(AppBudget):
    """The control: no app budget at all (no cap, deaf to what Xero reports)."""

    def __init__(self) -> None:
        super().__init__(per_minute=1_000_000, window_seconds=MINUTE)

    def observe(self, remaining: int, started: float) -> None:
        pass


def extract_side_by_side(handle: SandboxHandle, app_budget: Callable[[], AppBudget]) -> list[int]:
    """Every tenant's invoices, one 'process' per tenant; returns the record counts."""

    def one(tenant_index: int) -> int:
        def budget(tenant: str) -> RateBudget:
            return RateBudget(tenant, window_seconds=MINUTE, margin=MARGIN, app=app_budget())

        with XeroClient(handle.url, authorize(handle), page_size=20, budget_factory=budget) as c:
            tenant = c.connections()[tenant_index].tenant_id
            return sum(1 for _ in c.extract(endpoint("invoices"), tenant))

    with ThreadPoolExecutor(TENANTS) as pool:
        return list(pool.map(one, range(TENANTS)))


def test_tenants_side_by_side_stay_under_the_app_limit(sandbox_factory: SandboxFactory) -> None:
    flags = ("--tenants", str(TENANTS), "--records", str(RECORDS), "--time-scale", str(SCALE))
    handle = sandbox_factory(*flags, "--app-minute-limit", "20", "--latency-ms", "10")
    assert extract_side_by_side(handle, app_budget) == [RECORDS] * TENANTS
    limited = handle.stats()["rate_limited"]
    assert limited == {"minute": 0, "day": 0, "appminute": 0, "concurrent": 0}


def test_without_the_app_budget_the_same_run_draws_app_429s(
    sandbox_factory: SandboxFactory,
) -> None:
    # The control: the scenario above does reach the app limit when nobody budgets for it.
    flags = ("--tenants", str(TENANTS), "--records", str(RECORDS), "--time-scale", str(SCALE))
    handle = sandbox_factory(*flags, "--app-minute-limit", "20", "--latency-ms", "10")
    assert extract_side_by_side(handle, IgnoresTheApp) == [RECORDS] * TENANTS
    limited = handle.stats()["rate_limited"]
    assert isinstance(limited, dict) and limited["appminute"] > 0

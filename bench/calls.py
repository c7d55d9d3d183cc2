"""Figure 1: API calls per paged endpoint and for the whole catalog, counted by the sandbox."""

from __future__ import annotations

import math

from bench import edits
from bench.common import BenchResult, Figure, calls_by_endpoint, stack
from bench.workload import BY_PATH, run_baseline, run_ours, unpaced_budget
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.xero.catalog import CATALOG, Endpoint, Paging
from oauth_etl.xero.client import XeroClient

PAGE_MAX = 1000
SMALL = 100
# Page-only endpoints (Quotes) are read by keyset (xero/paging.py): each page starts at the
# previous page's last second, so it repeats at least one record. Allowed: 2 % over the floor.
QUIET_SLACK = 1.02


def minimum_calls(endpoint: Endpoint, records: int, sized: bool) -> int | None:
    """The fewest calls Xero's paging allows for `records` records (None: not a sized one)."""
    if endpoint.paging is Paging.NONE:
        return 1
    if not sized:
        return None
    if endpoint.paging is Paging.PAGE_SIZE:
        return max(1, math.ceil(records / PAGE_MAX))  # pagination.pageCount says when to stop
    # page-only and offset: a full last page can only be told from a next, empty one
    return records // SMALL + 1


def run(quick: bool) -> BenchResult:
    records = 2_000 if quick else 10_000
    result = BenchResult("calls")
    with stack(["--records", str(records), "--no-limits"], label="calls") as s:
        edits.authorize_full_catalog(s)
        tenant = s.tenants()[0]
        sized = {name for name, count in s.stats()["records"][tenant].items() if count == records}
        token = s.oauth.token_manager().access_token()
        invoices = BY_PATH["Invoices"]
        with XeroClient(
            s.url, BearerAuth(s.oauth.token_manager()), budget_factory=unpaced_budget
        ) as client:
            before = s.stats()
            run_ours(client, invoices, tenant, None)
            ours_inv = calls_by_endpoint(before, s.stats(), tenant).get("Invoices", 0)
            before = s.stats()
            run_baseline(s.url, token, invoices, tenant, None)
            base_inv = calls_by_endpoint(before, s.stats(), tenant).get("Invoices", 0)
            want = minimum_calls(invoices, records, True)
            result.figures.append(
                Figure(
                    "calls",
                    f"API calls, Invoices, {records:,} records",
                    ours_inv,
                    base_inv,
                    "calls",
                    target=f"= ceil(N/1000) = {want}",
                    met=ours_inv == want,
                    ratio=base_inv / ours_inv if ours_inv else None,
                )
            )
            before = s.stats()
            for endpoint in CATALOG:
                run_ours(client, endpoint, tenant, None)
            ours_all = calls_by_endpoint(before, s.stats(), tenant)
        before = s.stats()
        for endpoint in CATALOG:
            run_baseline(s.url, token, endpoint, tenant, None)
        base_all = calls_by_endpoint(before, s.stats(), tenant)
    floor = 0
    for endpoint in CATALOG:
        # None: a small fixed set on a page/offset endpoint, one short page
        floor += minimum_calls(endpoint, records, endpoint.path in sized) or 1
    ours_total, base_total = sum(ours_all.values()), sum(base_all.values())
    result.figures.append(
        Figure(
            "calls",
            f"API calls, full catalog ({len(CATALOG)} endpoints, {records:,}/paged endpoint)",
            ours_total,
            base_total,
            "calls",
            target=f"<= Xero's minimum {floor} + 2 %",
            met=ours_total <= floor * QUIET_SLACK,
            ratio=base_total / ours_total if ours_total else None,
        )
    )
    edited = edits.run_catalog(["--records", str(records), "--no-limits"], unpaced_budget)
    result.figures.append(
        Figure(
            "calls",
            f"API calls, full catalog, {edits.EDITS_PER_CALL:g} save per call on served pages",
            edited.calls,
            ours_total,
            "calls",
            target="no record lost (tests); cost shown",
            ratio=None,
            note="baseline column: ours on the quiet organisation",
        )
    )
    result.lines.append(
        f"calls with saves during the read: {edited.calls} ({edited.verify_calls} proving "
        f"completeness, {edited.changed} records seen saved mid-read, {edited.records:,} landed)"
        f"; quiet: {ours_total}"
    )
    worst = sorted(
        (
            (name, ours_all.get(name, 0), base_all.get(name, 0))
            for name in set(ours_all) | set(base_all)
        ),
        key=lambda row: -row[2],
    )
    result.lines.append(
        "calls per endpoint (ours/baseline): "
        + ", ".join(f"{name} {o}/{b}" for name, o, b in worst if o > 1 or b > 1)
    )
    return result

"""Rows for an organisation whose users save records while we read (issue #12).

The sandbox's edit mode changes `EDITS_PER_CALL` records of the endpoint just read
after every accounting call, picked from the page just served (the case that loses a
record under offset paging). Used by bench/calls.py (calls) and bench/walltime.py
(wall time): what the no-loss guarantee costs when data moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.common import Stack, calls_by_endpoint, stack
from bench.workload import count_or_land
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.xero.catalog import CATALOG, Endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.scopes import scopes_for

EDITS_PER_CALL = 1.0
EDIT_FLAGS = ("--edits-per-call", str(EDITS_PER_CALL), "--edit-target", "served")


# The benchmarks read the whole catalog, opt-in endpoints included (Journals and
# ExpenseClaims/Receipts need scopes the default consent of a 2026 app leaves out).
FULL_CATALOG_SCOPES = scopes_for(with_journals=True, with_classic_expenses=True).scopes


def authorize_full_catalog(s: Stack) -> None:
    s.oauth.connection.authorize(
        mode="unattended", scopes=FULL_CATALOG_SCOPES, output=lambda _line: None
    )


@dataclass
class EditedRun:
    calls: int  # counted by the sandbox
    verify_calls: int  # of which spent proving completeness after data moved
    changed: int  # sightings of records saved during the read
    records: int
    seconds: float


def run_catalog(
    flags: list[str],
    budget: Callable[[str], RateBudget],
    order: list[Endpoint] | None = None,
    workers: int = 1,
    warm_up: Callable[[], None] | None = None,
    land: bool = False,
) -> EditedRun:
    """The whole catalog once with our client against a sandbox in edit mode.

    `land`: write each batch to Azurite, as the asset and IO manager do.
    """
    with stack([*flags, *EDIT_FLAGS], label="edits") as s:
        authorize_full_catalog(s)
        tenant = s.tenants()[0]
        container = s.new_container("edits") if land else None
        for endpoint in CATALOG:  # tables are built lazily: not part of the figure
            s.admin.get(
                "/_sandbox/records", params={"tenant_id": tenant, "endpoint": endpoint.path}
            ).raise_for_status()
        if warm_up is not None:
            warm_up()
        before = s.stats()
        figures = {"verify": 0, "changed": 0, "records": 0}
        with XeroClient(s.url, BearerAuth(s.oauth.token_manager()), budget_factory=budget) as c:

            def one(endpoint: Endpoint) -> tuple[int, int, int]:
                extraction = c.extract(endpoint, tenant)
                records, _ = count_or_land(extraction, endpoint, tenant, container, run_id="edits")
                stats = extraction.stats
                return stats.verify_calls, stats.changed, records

            started = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                for verify, changed, records in pool.map(one, order or list(CATALOG)):
                    figures["verify"] += verify
                    figures["changed"] += changed
                    figures["records"] += records
            seconds = time.perf_counter() - started
        calls = sum(calls_by_endpoint(before, s.stats(), tenant).values())
    return EditedRun(calls, figures["verify"], figures["changed"], figures["records"], seconds)

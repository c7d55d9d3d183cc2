"""How many calls the reports of a run may spend for one tenant today.

Xero's day budget per tenant depends on the app's tier since 2 March 2026: Starter 1,000,
Core and above 5,000 (xero.com pricing pages and third-party summaries of them;
developer.xero.com/faq/limits still gives 5,000 for every app). Once the tenant's rate
budget (oauth_etl/xero/rate.py) has seen a response, Xero's own `X-DayLimit-Remaining`
decides (it counts every process's calls); before that, the tier's allowance less what
this run has already spent and a reserve for the endpoints' own calls.
"""

from __future__ import annotations

from oauth_etl.xero.rate import RateBudget

DAY_CALLS: dict[str, int] = {
    "starter": 1000,
    "core": 5000,
    "plus": 5000,
    "advanced": 5000,
    "enterprise": 5000,
}


def calls_left(
    budget: RateBudget | None = None,
    *,
    tier: str = "starter",
    spent: int = 0,
    reserve: int = 0,
) -> int:
    """The calls the reports may spend now: Xero's reported day remainder when the budget
    has one, else the tier's day allowance less `spent`; `reserve` kept back either way."""
    try:
        allowance = DAY_CALLS[tier.lower()]
    except KeyError:
        known = ", ".join(DAY_CALLS)
        raise ValueError(f"unknown Xero tier {tier!r}: one of {known}") from None
    if budget is not None:
        snapshot = budget.snapshot()
        if snapshot["day_exhausted"]:
            return 0
        reported = snapshot["day_remaining"]
        if isinstance(reported, int):
            return max(0, reported - reserve)
    return max(0, allowance - spent - reserve)

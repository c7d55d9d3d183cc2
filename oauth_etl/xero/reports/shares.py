"""Who gets the day's calls first when a tenant's reports do not all fit in them (pure).

The policy: the financial statements (profit and loss, balance sheet, trial balance) are
served first, then the other period-bounded reports, and the per-contact aged reports
share what is left in proportion to what each needs; what is cut is read first on the
next run.

Why: each report asset plans within what the day has left, and a run's steps go in
Dagster's order (alphabetical among independent assets), so the aged reports, one call
per contact per month-end (README, Reports: 270 of a daily run's 290 calls for 100
contacts), came first and spent a Starter day (1,000 calls a tenant) before the P&L and
balance sheet, a few dozen calls bounded by periods, were asked. Within a tier, shares
in proportion to demand, so neither aged report can take the whole tier from the other
run after run.
"""

from __future__ import annotations

from collections.abc import Mapping

# Tier per catalog report: 0 first. A test keeps it in step with the catalog (every report
# has a tier, every per-contact report is in the last one).
PRIORITY: dict[str, int] = {
    "profit_and_loss": 0,
    "balance_sheet": 0,
    "trial_balance": 0,
    "bank_summary": 1,
    "executive_summary": 1,
    "budget_summary": 1,
    "ten_ninety_nine": 1,
    "published_reports": 1,
    "published_report": 1,
    "aged_receivables_by_contact": 2,
    "aged_payables_by_contact": 2,
}


def tier(name: str) -> int:
    try:
        return PRIORITY[name]
    except KeyError:
        raise KeyError(f"report {name!r} has no tier in reports/shares.py PRIORITY") from None


def allot(available: int, demand: Mapping[str, int]) -> dict[str, int]:
    """The calls each report may spend out of `available`, given the calls each needs:
    tier by tier, each report of a tier that fits gets all it needs; the first tier that
    does not fit shares what is left in proportion to need (largest remainders take the
    odd calls, ties by name) and the later tiers get nothing."""
    left = max(0, available)
    out: dict[str, int] = {}
    for level in sorted({tier(n) for n in demand}):
        names = sorted(n for n in demand if tier(n) == level)
        need = {n: max(0, demand[n]) for n in names}
        total = sum(need.values())
        if total <= left:
            out.update(need)
            left -= total
            continue
        shares = {n: left * need[n] // total for n in names}
        odd = left - sum(shares.values())
        for n in sorted(names, key=lambda n: (-(left * need[n] % total), n))[:odd]:
            shares[n] += 1
        out.update(shares)
        left = 0
    return out


__all__ = ["PRIORITY", "allot", "tier"]

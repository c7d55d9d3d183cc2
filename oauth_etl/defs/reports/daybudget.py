"""What a report asset may spend of the tenant's day, and what earlier runs left it.

A report's step reads its own state (`State`, from its last materialization) and, to
share the day (`oauth_etl.xero.reports.shares`), the demand of the run's other reports
that have not spent theirs yet: each one's plan, computed as its own step will compute it
(same facts, same state), uncapped. A report that already materialized in this run has
spent its calls, and Xero's `X-DayLimit-Remaining` (budget.calls_left) already counts
them. The run's steps go one after another (the jobs' default in-process executor,
defs/xero/jobs.py IN_PROCESS); with the multiprocess executor two steps running at once
each keep the other's share, so the day is never overspent, only under-used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from oauth_etl.defs.reports.tables import landing_key
from oauth_etl.xero.reports.catalog import REPORTS
from oauth_etl.xero.reports.periods import Facts, PlanOptions, plan
from oauth_etl.xero.reports.shares import allot, tier
from oauth_etl.xero.scopes import report_access

DONE, FIRST, SEEN = "reports/done", "reports/first", "reports/seen"
PLANNED = "reports/requests_planned"


@dataclass(frozen=True)
class State:
    """What the previous runs left for this one."""

    done: frozenset[str] = frozenset()  # period keys read while final
    first: tuple[str, ...] = ()  # request keys left over by the budget
    seen: frozenset[str] = frozenset()  # every period key read so far
    run_id: str | None = None  # the run of that materialization
    planned: int | None = None  # its requests planned (read and left)


def last_state(instance: dg.DagsterInstance, key: dg.AssetKey, tenant_id: str) -> State:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[tenant_id]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return State()
    metadata = records[0].asset_materialization.metadata

    def listed(name: str) -> list[str]:
        value = getattr(metadata.get(name), "value", None)
        return [str(v) for v in value] if isinstance(value, list) else []

    planned = getattr(metadata.get(PLANNED), "value", None)
    return State(
        frozenset(listed(DONE)),
        tuple(listed(FIRST)),
        frozenset(listed(SEEN)),
        records[0].run_id,
        planned if isinstance(planned, int) else None,
    )


@dataclass(frozen=True)
class Share:
    """This report's part of the day, and why."""

    day_left: int  # what the day had left when the step began
    allotted: int  # what this report may spend
    kept_for: dict[str, int]  # calls kept for the run's reports served before this one


def share_of_day(
    context: dg.AssetExecutionContext,
    name: str,
    own_demand: int,
    day_left: int,
    facts: Facts,
    today: dt.date,
    years: int,
    granted: Iterable[str] | None,
) -> Share:
    """This report's calls out of `day_left`, after the run's reports that come before it
    (shares.allot) and have yet to run. A report the token has no scope for needs none
    (its step fails without a call); a report planned from another's answer
    (published_report) is counted at what its last run planned."""
    tenant = context.partition_key
    # The run's own selection: a report of the job that this run does not read keeps nothing.
    in_run = context.run.asset_selection or context.job_def.asset_layer.executable_asset_keys
    allowed = set(report_access(granted or ()).allowed)
    demand = {name: own_demand}
    for spec in REPORTS:
        key = landing_key(spec.name)
        if spec.name == name or key not in in_run or spec.name not in allowed:
            continue
        state = last_state(context.instance, key, tenant)
        if state.run_id == context.run_id:
            continue  # it spent its calls already: the day's remainder counts them
        if spec.name == "published_report":
            demand[spec.name] = state.planned or 0
            continue
        options = PlanOptions(years=years, reports=(spec.name,))
        found = plan(facts, today, options, done=state.done, first=state.first)
        demand[spec.name] = len(found.requests)
    allotted = allot(day_left, demand)
    mine = tier(name)
    kept = {n: allotted[n] for n in sorted(demand) if n != name and allotted[n] and tier(n) <= mine}
    return Share(day_left, allotted[name], kept)

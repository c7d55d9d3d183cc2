"""One landing asset per report (`xero_reports/<report>`), partitioned by tenant.

Each run plans the report's calls for the tenant (`oauth_etl.xero.reports.periods`:
months of the current and previous financial year, open periods re-read every run,
final ones, on or before the lock date, read once), reads them one by one, and lands
each answer as it comes, one record per call (`tables/reports_records.py`), through the
landing IO manager. The calls it may spend are its part of what the tenant's day has
left (daybudget.py, shares.py: the financial statements first, the aged reports share
the rest), said in the metadata (`reports/allotted`, `reports/cut`). A request that fails is
recorded with its reason and the others still land; a day limit ends the reading cleanly
and the requests left are the next run's first. What the next run resumes from is in the
materialization's metadata: `reports/done` (period keys read while final: never read
again) and `reports/first` (the requests left), so a period is neither lost nor read
twice. The published returns are planned from the list of them landed before
(`PLANNED_FROM`); an empty plan lands nothing and says why (`reports/nothing_to_read`).
"""

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import dagster as dg
from pydantic import Field

from oauth_etl.defs.reports.daybudget import (
    DONE,
    FIRST,
    PLANNED,
    SEEN,
    Share,
    State,
    last_state,
    share_of_day,
)
from oauth_etl.defs.reports.organisation import (
    GROUP,
    ORGANISATION_KEY,
    SOURCE,
    facts_of,
    not_granted,
)
from oauth_etl.defs.reports.tables import landing_key
from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.assets import XERO_RETRY_POLICY
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.tables.reports_records import answer_record
from oauth_etl.xero.errors import TenantDisconnected
from oauth_etl.xero.reports.budget import calls_left
from oauth_etl.xero.reports.catalog import REPORTS, Report
from oauth_etl.xero.reports.errors import ReportScopeMissing
from oauth_etl.xero.reports.months import history_start
from oauth_etl.xero.reports.outcomes import Outcome, Status, iter_plan
from oauth_etl.xero.reports.parse import published_periods
from oauth_etl.xero.reports.periods import Facts, Plan, PlanOptions, is_final, plan

# Outcome reasons a retry cannot mend (outcomes.py: the error's `reason`, else its class).
PERSON_MUST_ACT = frozenset({ReportScopeMissing.reason, TenantDisconnected.__name__})
LISTED = 200  # periods listed in the metadata (their counts are always complete)
NOTHING = "reports/nothing_to_read"  # why a tenant's plan of a report is empty
# Reports planned from another report's answer, landed earlier in the run: each published
# return (getReportFromId) by the ReportID and period the list (getReportsList) gave.
PLANNED_FROM: dict[str, str] = {"published_report": "published_reports"}
# Why a tenant may have none of a report: what the metadata says when the plan is empty.
WHY_NONE: dict[str, str] = {
    "published_report": "the organisation's list of published reports "
    "(xero_reports/published_reports) is empty: GST and BAS returns are Australian and "
    "New Zealand ones",
    "budget_summary": "the organisation has no budget",
    "aged_receivables_by_contact": "the organisation has no contacts",
    "aged_payables_by_contact": "the organisation has no suppliers",
}


class ReportsConfig(dg.Config):
    years: int = Field(
        default=2, description="Financial years of history, the current one included."
    )
    max_calls: int | None = Field(
        default=None,
        description="The most calls this report may spend for the tenant this run (None: "
        "what Xero's day budget has left); the requests left are read first next run.",
    )
    tier: str = Field(
        default="starter",
        description="The app's Xero tier (starter: 1,000 calls a day; core and above: 5,000): "
        "the day budget before Xero has reported its own remainder.",
    )
    reserve_calls: int = Field(
        default=0, description="Calls of the day left untouched for other work."
    )
    today: str | None = Field(
        default=None, description="The day to plan for (YYYY-MM-DD; default: today, UTC)."
    )


def _ends(period_key: str) -> dt.date:
    """The end of a period key's period (`report?slice@start/end`)."""
    return dt.date.fromisoformat(period_key.rsplit("/", 1)[-1])


def _land(
    xero: XeroApiResource,
    facts: Facts,
    planned: Plan,
    state: State,
    stats: BatchStats,
    log: Any,
    since: dt.date,
    why_none: str,
) -> Iterator[dict[str, Any]]:
    """Read the plan, yielding each answer's record; then the figures and the state the
    next run resumes from (final keys before `since`, the history's start, are dropped:
    no plan asks for them again)."""
    outcomes: list[Outcome] = []
    for outcome in iter_plan(xero.client(), facts.org, planned.requests):
        outcomes.append(outcome)
        if outcome.status is Status.LANDED and outcome.reading is not None:
            yield answer_record(outcome.reading, facts.org)
        elif outcome.status is Status.FAILED:
            log.warning(f"{outcome.request.key}: {outcome.message}")
    landed = [o.request for o in outcomes if o.status is Status.LANDED]
    failed = [o for o in outcomes if o.status is Status.FAILED]
    left = [o.request for o in outcomes if o.status is Status.SKIPPED_FOR_BUDGET]
    left += list(planned.remainder)
    read = [k for r in landed for k in r.period_keys]
    final = [
        k
        for r in landed
        for k, p in zip(r.period_keys, r.periods, strict=True)
        if is_final(p, facts.org)
    ]
    if failed and not landed and any(o.reason in PERSON_MUST_ACT for o in failed):
        # Nothing can be read without the scope, or from a disconnected organisation: a
        # person must act (the message says how).
        raise dg.Failure(
            description=failed[0].message or "",
            metadata={"error": "ReportScopeMissing"},
            allow_retries=False,
        )
    stats.api_calls = sum(o.calls for o in outcomes)
    stats.complete = not left
    stats.extra.update(
        {
            "reports/calls": stats.api_calls,
            PLANNED: len(planned.requests) + len(planned.remainder),
            "reports/landed": len(landed),
            "reports/failed": len(failed),
            "reports/skipped_for_budget": len(left),
            "periods_read": len(read),
            "periods_reread": sum(1 for k in read if k in state.seen),
            "periods_final_read": len(final),
            "periods_final_already_read": planned.already_read,
            "periods_read_list": read[:LISTED],
            "periods_reread_list": [k for k in read if k in state.seen][:LISTED],
            "periods_final_list": final[:LISTED],
            "failures": [
                {"request": o.request.key, "reason": o.reason or "", "message": o.message or ""}
                for o in failed
            ],
            DONE: sorted(k for k in state.done | planned.done_after(landed) if _ends(k) >= since),
            FIRST: [r.key for r in left],
            # Open periods are read every run: the last run's reads tell a re-read.
            SEEN: sorted(set(read)),
        }
    )
    if not planned.requests and not planned.remainder and not planned.already_read:
        stats.extra[NOTHING] = why_none
        log.info(why_none)
    if left:
        stats.extra["resumes"] = f"{len(left)} request(s) first on the next run"


def _share_metadata(share: Share, planned: Plan) -> dict[str, Any]:
    """What the day had left, this report's part of it and, when the plan was cut for
    the reports served before it, what was kept for them."""
    out: dict[str, Any] = {
        "reports/day_left": share.day_left,
        "reports/allotted": share.allotted,
        "reports/kept_for": share.kept_for,
    }
    if planned.remainder:
        kept = sum(share.kept_for.values())
        out["reports/cut"] = (
            f"{len(planned.remainder)} request(s) cut: the day had {share.day_left} call(s) "
            f"left, {share.allotted} for this report"
            + (f", {kept} kept for {', '.join(share.kept_for)}" if kept else "")
            + " (docs/reports.md, Budget); they are read first on the next run"
        )
    return out


def why_none(spec: Report, facts: Facts, record: Mapping[str, Any]) -> str:
    """Why the tenant may have none of `spec`, for an empty plan's metadata: a budget
    summary without the Budgets scope is told apart from an organisation without a
    budget (organisation.not_granted)."""
    missing = not_granted(record)
    if spec.name == "budget_summary" and "Budgets" in missing:
        scope = missing["Budgets"]
        return (
            f"the organisation's budgets could not be read: the token lacks {scope}, so "
            f"whether it has a budget is unknown; run `oauth-etl authorize` (it asks for "
            f"{scope}) to read the budget summary"
        )
    if spec.countries is not None and facts.org.country not in spec.countries:
        return (
            f"the {spec.name} report is read for organisations in "
            f"{', '.join(sorted(spec.countries))} only; this one is in "
            f"{facts.org.country or 'a country Xero did not give'}"
        )
    return WHY_NONE.get(spec.name, "no period to read this run")


def with_published(facts: Facts, listed: Iterable[Mapping[str, Any]]) -> Facts:
    """The facts with the returns the landed list names (ReportID -> its period)."""
    found = {k: p for record in listed for k, p in published_periods(record["answer"]).items()}
    return replace(facts, published=found)


def build_report_asset(spec: Report) -> dg.AssetsDefinition:
    key = landing_key(spec.name)
    ins = {"organisation": dg.AssetIn(ORGANISATION_KEY)}
    source = PLANNED_FROM.get(spec.name)
    if source is not None:
        ins["listed"] = dg.AssetIn(landing_key(source))

    @dg.asset(
        key=key,
        group_name=GROUP,
        partitions_def=TENANTS,
        io_manager_key="landing_io_manager",
        kinds={"xero", "azure"},
        ins=ins,
        retry_policy=XERO_RETRY_POLICY,
        description=(
            f"{spec.description}\n\nXero `GET /api.xro/2.0/{spec.path}` "
            f"({spec.operation_id}; scope {spec.granular_scope} or {spec.broad_scope}), "
            "planned by period: open ones re-read every run, final ones (on or before the "
            "lock date) read once. Lands each answer as it came, one record per call, under "
            f"`{SOURCE}/<tenant>/{spec.name}/<batch>/`."
            + (f" Planned from the landed `{SOURCE}/{source}`." if source else "")
        ),
        metadata={"xero/path": spec.path, "xero/scopes": " ".join(spec.scopes)},
    )
    def _read(
        context: dg.AssetExecutionContext,
        config: ReportsConfig,
        xero: XeroApiResource,
        organisation: Any,  # the landed record(s) of xero_reports/organisation, streamed
        **upstream: Any,  # `listed`: the landed answer of PLANNED_FROM's report
    ) -> LandingBatch:
        tenant_id = context.partition_key
        record = next(iter(organisation))
        facts = facts_of(tenant_id, record)
        if "listed" in upstream:
            facts = with_published(facts, upstream["listed"])
        state = last_state(context.instance, key, tenant_id)
        today = (
            dt.date.fromisoformat(config.today) if config.today else dt.datetime.now(dt.UTC).date()
        )
        # What the day has left (Xero's X-DayLimit-Remaining once a call was answered),
        # shared with the run's reports still to come: statements first (shares.py).
        left = calls_left(
            xero.client().budget(tenant_id), tier=config.tier, reserve=config.reserve_calls
        )
        options = PlanOptions(years=config.years, reports=(spec.name,))
        wanted = plan(facts, today, options, done=state.done, first=state.first)
        share = share_of_day(
            context,
            spec.name,
            len(wanted.requests),
            left,
            facts,
            today,
            config.years,
            xero.granted_scopes(),
        )
        cap = share.allotted if config.max_calls is None else min(share.allotted, config.max_calls)
        planned = plan(facts, today, options, done=state.done, calls_left=cap, first=state.first)
        context.log.info(
            f"{spec.name} for tenant {tenant_id}: {len(planned.requests)} call(s) planned, "
            f"{len(planned.remainder)} left for the next run, {planned.already_read} final "
            "period(s) already read"
        )
        stats = BatchStats()
        stats.extra.update(_share_metadata(share, planned))
        since = history_start(facts.org, today, config.years)
        why = why_none(spec, facts, record)
        records = _land(xero, facts, planned, state, stats, context.log, since, why)
        return LandingBatch(SOURCE, spec.name, tenant_id, records, stats=stats)

    return _read


# A module-level list: the defs autoloader collects lists of assets, not tuples.
REPORT_ASSETS: list[dg.AssetsDefinition] = [build_report_asset(r) for r in REPORTS]

"""Read a plan of report requests for one tenant: one outcome per request.

A request lands, fails with its reason, or is skipped for the budget. A failure of one
report does not stop the others; what would fail the same way again is not asked again
(the report's scope is missing, the organisation does not have the report), and a
tenant-wide refusal (disconnected, the token rejected) or the day's budget ends the
reading: the requests left are returned, to be read on the next run. Xero unavailable
after all the client's retries fails that request; twice in a row ends the reading (an
outage, not one report timing out), so an outage does not cost every request its retries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import ParamSpec

from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.errors import (
    DayLimitReached,
    TenantDisconnected,
    XeroApiError,
    XeroUnavailable,
)
from oauth_etl.xero.http import Counters
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.reports.errors import ReportFailed, ReportNotAvailable, ReportScopeMissing
from oauth_etl.xero.reports.model import ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.read import ReportReading, read_report

P = ParamSpec("P")


class Status(Enum):
    LANDED = "landed"
    FAILED = "failed"
    SKIPPED_FOR_BUDGET = "skipped_for_budget"


@dataclass(frozen=True)
class Outcome:
    request: ReportRequest
    status: Status
    reading: ReportReading | None = None
    reason: str | None = None  # ReportFailed.reason, or the error's class name
    message: str | None = None
    calls: int = 0


@dataclass
class PlanResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(o.calls for o in self.outcomes)

    def by_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is status]

    @property
    def remainder(self) -> tuple[ReportRequest, ...]:
        """The requests skipped for the budget: the next run's first."""
        return tuple(o.request for o in self.by_status(Status.SKIPPED_FOR_BUDGET))


def _reason(error: XeroApiError) -> str:
    return str(getattr(error, "reason", None) or type(error).__name__)


def iter_plan(
    client: XeroClient,
    org: Organisation,
    requests: Iterable[ReportRequest],
    *,
    calls_left: int | None = None,
    budget: RateBudget | None = None,
) -> Iterator[Outcome]:
    """Outcomes in plan order, as each request is read (land each as it comes).

    `calls_left`: the calls this reading may spend (None: no cap but the rate budget's);
    a request is asked only while at least one is left.
    """
    counters = Counters()
    blocked: dict[str, XeroApiError] = {}  # report -> why it is not asked again
    stop: XeroApiError | None = None
    unavailable = 0  # in a row
    for request in requests:
        if stop is not None:
            if isinstance(stop, DayLimitReached):
                yield Outcome(request, Status.SKIPPED_FOR_BUDGET, message=str(stop))
            else:
                yield Outcome(request, Status.FAILED, reason=_reason(stop), message=str(stop))
            continue
        if request.report in blocked:
            known = blocked[request.report]
            yield Outcome(request, Status.FAILED, reason=_reason(known), message=str(known))
            continue
        if calls_left is not None and counters.calls >= calls_left:
            yield Outcome(request, Status.SKIPPED_FOR_BUDGET, message="the run's call budget")
            continue
        before = counters.calls
        try:
            reading = read_report(client, org, request, budget=budget, counters=counters)
        except DayLimitReached as spent:
            stop = spent
            yield Outcome(
                request,
                Status.SKIPPED_FOR_BUDGET,
                message=str(spent),
                calls=counters.calls - before,
            )
            continue
        except (ReportScopeMissing, ReportNotAvailable) as refused:
            # A 404 names one published report: the others may well exist.
            if not (isinstance(refused, ReportNotAvailable) and refused.status == 404):
                blocked[request.report] = refused
            yield _failed(request, refused, counters.calls - before)
            continue
        except ReportFailed as failed:
            yield _failed(request, failed, counters.calls - before)
            continue
        except XeroApiError as failed:
            unavailable = unavailable + 1 if isinstance(failed, XeroUnavailable) else 0
            if isinstance(failed, TenantDisconnected) or failed.status == 401 or unavailable > 1:
                stop = failed
            yield _failed(request, failed, counters.calls - before)
            continue
        unavailable = 0
        yield Outcome(request, Status.LANDED, reading=reading, calls=reading.calls)


def _failed(request: ReportRequest, error: XeroApiError, calls: int) -> Outcome:
    return Outcome(request, Status.FAILED, reason=_reason(error), message=str(error), calls=calls)


def _collected(read: Callable[P, Iterator[Outcome]]) -> Callable[P, PlanResult]:
    """`read`'s outcomes, collected: one parameter list, `iter_plan`'s."""

    @functools.wraps(read)
    def collect(*args: P.args, **kwargs: P.kwargs) -> PlanResult:
        return PlanResult(list(read(*args, **kwargs)))

    return collect


read_plan = _collected(iter_plan)
"""Every outcome of `iter_plan`, collected (same parameters)."""

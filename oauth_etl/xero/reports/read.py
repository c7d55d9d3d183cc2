"""Read one `ReportRequest` for one tenant through the Xero client's HTTP path.

One GET through `XeroClient.http` (oauth_etl/xero/http.py): its retries, timeouts, the
tenant's shared rate budget and its error mapping; the answer is kept as Xero sent it (for
landing) next to its cells (`parse.cells`). Xero's refusals become the typed errors of
`reports/errors.py`, each naming the report, the tenant and the fix. Reading a plan:
`read_plan` (reports/outcomes.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.errors import MalformedResponse, NotEntitled, XeroApiError
from oauth_etl.xero.extraction import ACCOUNTING_PREFIX, TENANT_HEADER
from oauth_etl.xero.http import ApiRequest, Counters
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.reports.catalog import Report, report
from oauth_etl.xero.reports.errors import (
    BeforeOrganisation,
    ReportNotAvailable,
    ReportRejected,
    ReportScopeMissing,
    UnknownTrackingCategory,
)
from oauth_etl.xero.reports.model import ReportCell, ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.parse import UnexpectedShape, cells

PATH_PARAMS = ("ReportID",)


@dataclass(frozen=True)
class ReportReading:
    """One answered request: the body as Xero sent it, and its cells."""

    request: ReportRequest
    tenant_id: str
    body: bytes  # the JSON answer, unchanged: what lands
    document: dict[str, Any]
    cells: tuple[ReportCell, ...]
    calls: int  # HTTP attempts this reading spent (retries included)
    correlation_id: str | None
    as_read_at: dt.datetime


def where(spec: Report, request: ReportRequest) -> tuple[str, dict[str, str]]:
    """The path (with `{ReportID}` filled in) and the query of a request."""
    path, query = spec.path, {}
    for name, value in request.params:
        if name in PATH_PARAMS:
            path = path.replace("{" + name + "}", value)
        else:
            query[name] = value
    if "{" in path:
        raise ValueError(f"{request.key}: the path {spec.path} needs its ReportID")
    return path, query


def read_report(
    client: XeroClient,
    org: Organisation,
    request: ReportRequest,
    *,
    budget: RateBudget | None = None,
    counters: Counters | None = None,
) -> ReportReading:
    """Read `request` for the tenant `org` names; raises a `ReportFailed` (or any
    `XeroApiError` of the client: unavailable, day limit, disconnected) on failure."""
    spec = report(request.report)
    tenant = org.tenant_id
    _refuse_without_a_call(spec, org, request)
    path, query = where(spec, request)
    counted = counters or Counters()
    before = counted.calls
    as_read_at = dt.datetime.now(dt.UTC)
    try:
        reply = client.http.get(
            ApiRequest(
                f"{client.api_url}{ACCOUNTING_PREFIX}{path}",
                label=path,
                endpoint=None,
                tenant_id=tenant,
                params=query,
                headers={TENANT_HEADER: tenant},
                budget=budget or client.budget(tenant),
                counters=counted,
            )
        )
    except NotEntitled as refused:
        raise ReportScopeMissing(
            spec.name,
            tenant,
            broad_scope=spec.broad_scope,
            granular_scope=spec.granular_scope,
            correlation_id=refused.correlation_id,
        ) from None
    except XeroApiError as failed:
        raise _refusal(spec, tenant, request, failed) or failed from None
    try:
        document = orjson.loads(reply.body)
        if not isinstance(document, dict):
            raise UnexpectedShape("not a JSON object")
        found = cells(document, spec, request, org, as_read_at)
    except (orjson.JSONDecodeError, UnexpectedShape) as exc:
        raise MalformedResponse(
            path, page=None, problem=str(exc), body=reply.body, correlation_id=reply.correlation_id
        ) from None
    return ReportReading(
        request=request,
        tenant_id=tenant,
        body=reply.body,
        document=document,
        cells=tuple(found),
        calls=counted.calls - before,
        correlation_id=reply.correlation_id,
        as_read_at=as_read_at,
    )


def _refuse_without_a_call(spec: Report, org: Organisation, request: ReportRequest) -> None:
    """What we know the answer to already: no call is spent on it."""
    if spec.countries is not None and org.country and org.country not in spec.countries:
        raise ReportNotAvailable(
            spec.name,
            org.tenant_id,
            f"The {spec.name} report is only for organisations in "
            f"{', '.join(sorted(spec.countries))}; tenant {org.tenant_id} is in {org.country}: "
            "leave it out of this tenant's plan (the planner does).",
        )
    if org.created and request.periods and max(p.end for p in request.periods) < org.created:
        raise BeforeOrganisation(
            spec.name,
            org.tenant_id,
            f"{request.key} asks only for periods before tenant {org.tenant_id} existed in "
            f"Xero (created {org.created.isoformat()}): plan from that date on (the "
            "planner's default history starts there).",
        )


def _refusal(
    spec: Report, tenant: str, request: ReportRequest, failed: XeroApiError
) -> XeroApiError | None:
    """Xero's 400 and 404 on a report, as the typed error saying what to do. The 400s are
    told apart by their Message (ValidationException): Xero's tracking wording is quoted in
    Xero-Java issue #100; the 1099's outside the US has no source (the sandbox's)."""
    detail, cid = failed.detail, failed.correlation_id
    where_ = f"{spec.name} for tenant {tenant}"
    if failed.status == 404:
        return ReportNotAvailable(
            spec.name,
            tenant,
            f"Xero has no {where_} ({request.key}: 404): the organisation does not have this "
            "report; list its published reports (published_reports) for the ReportIDs it has.",
            status=404,
            detail=detail,
            correlation_id=cid,
        )
    if failed.status != 400:
        return None
    lowered = detail.lower()
    if "tracking" in lowered:
        return UnknownTrackingCategory(
            spec.name,
            tenant,
            f"Xero refused {where_}: {detail}. The tracking category "
            f"{request.tracking_category_id or ''} is not (or no longer) the organisation's: "
            "re-read TrackingCategories and plan again.",
            status=400,
            detail=detail,
            correlation_id=cid,
        )
    if "only available" in lowered or "not available" in lowered:
        return ReportNotAvailable(
            spec.name,
            tenant,
            f"Xero refused {where_}: {detail}. Leave {spec.name} out of this tenant's plan.",
            status=400,
            detail=detail,
            correlation_id=cid,
        )
    return ReportRejected(
        spec.name,
        tenant,
        f"Xero refused {where_} ({request.key}): {detail}. Fix the parameters (the catalog "
        "lists what each report accepts) and run again.",
        status=400,
        detail=detail,
        correlation_id=cid,
    )

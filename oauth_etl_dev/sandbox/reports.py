"""`/api.xro/2.0/Reports/...`: Xero's Reports API from the tenant's books.

Every report goes through the same checks and limits as any accounting call (bearer,
tenant 403, scope 401 AuthorizationUnsuccessful, rate limits 429; sandbox/limits.py)
and counts in the stats as `Reports/<Name>`. Bodies: the `ReportWithRows` envelope
(xero_accounting.yaml: Id, Status, ProviderName, DateTimeUTC, Reports), except the 1099
(schema `Reports`). A bad parameter is a 400 ValidationException (spec schema Error).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from oauth_etl_dev.sandbox.report_context import ReportContext
from oauth_etl_dev.sandbox.report_scopes import scopes_for
from oauth_etl_dev.sandbox.report_shape import Json, ReportError
from oauth_etl_dev.sandbox.reports_aged import aged, published, published_report, ten_ninety_nine
from oauth_etl_dev.sandbox.reports_bs import balance_sheet, bank_summary, trial_balance
from oauth_etl_dev.sandbox.reports_pl import budget_summary, executive_summary, profit_and_loss
from oauth_etl_dev.sandbox.responses import json_response, problem
from oauth_etl_dev.sandbox.skews import apply as apply_skews

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.app import SandboxApp

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

# Report path segment -> its builder (spec operation ids getReport<Name>).
REPORTS: dict[str, Callable[[ReportContext], Json]] = {
    "ProfitAndLoss": profit_and_loss,
    "BalanceSheet": balance_sheet,
    "TrialBalance": trial_balance,
    "BankSummary": bank_summary,
    "BudgetSummary": budget_summary,
    "ExecutiveSummary": executive_summary,
    "AgedReceivablesByContact": lambda ctx: aged(ctx, "AR"),
    "AgedPayablesByContact": lambda ctx: aged(ctx, "AP"),
    "TenNinetyNine": ten_ninety_nine,
}
BY_LOWER = {name.lower(): name for name in REPORTS}


class ReportsApi:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    async def api(self, request: Request, rest: str, correlation: str) -> Response:
        """`rest`: the path after `Reports/` ("" lists the published reports)."""
        if "/" in rest:
            return Response(NOT_FOUND_TEXT, 404, media_type="text/plain")
        name = BY_LOWER.get(rest.lower())
        if name is None and rest and not GUID.match(rest):
            return Response(NOT_FOUND_TEXT, 404, media_type="text/plain")
        key = name if name is not None else ("{ReportID}" if rest else "")
        state = self.app.state
        grant = self.app.bearer(request, correlation)
        if isinstance(grant, Response):
            return grant
        tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
        store = state.store.tenant(tenant_id)
        if store is None or tenant_id not in grant.tenants:
            refused = problem(403, "Forbidden", "AuthenticationUnsuccessful", correlation)
            return json_response(refused, 403)
        if not scopes_for(key) & grant.scopes:
            return self.app.unauthorized(correlation, "AuthorizationUnsuccessful")
        rejection = state.limiter.acquire(tenant_id)
        if rejection is not None:
            headers = state.limiter.headers(tenant_id)
            headers.update(
                {
                    "Retry-After": str(rejection.retry_after),
                    "X-Rate-Limit-Problem": rejection.problem,
                }
            )
            return Response(b"", 429, headers=headers)
        try:
            label = f"Reports/{name or ('' if not rest else 'ReportID')}".rstrip("/")
            state.stats.api_calls[tenant_id][label] += 1
            now = state.clock.now_ms()
            ctx = ReportContext(store, dict(request.query_params), now)
            headers = state.limiter.headers(tenant_id)
            try:
                if name is not None:
                    reports = [REPORTS[name](ctx)]
                elif rest:
                    found = published_report(ctx, rest)
                    if found is None:
                        return Response(NOT_FOUND_TEXT, 404, media_type="text/plain")
                    reports = [found]
                else:
                    reports = published(ctx)
            except ReportError as exc:
                return json_response(exc.body(), 400, headers=headers)
            for report in reports:  # a test's wrong figures (sandbox/skews.py)
                apply_skews(report, store.skews)
            state.stats.records_served[tenant_id][label] += len(reports)
            body = {
                "Id": correlation,
                "Status": "OK",
                "ProviderName": self.app.config.app_name,
                "DateTimeUTC": f"/Date({now})/",
                "Reports": reports,
            }
            delay_ms = self.app.config.latency_ms
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            return json_response(body, headers=headers)
        finally:
            state.limiter.release(tenant_id)

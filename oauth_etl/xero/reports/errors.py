"""Why one report could not be read: each names the report, the tenant and the fix.

All are `XeroApiError`s (oauth_etl/xero/errors.py): a caller that handles the API's
errors handles these. None holds a header or a token.
"""

from __future__ import annotations

from oauth_etl.xero.errors import NotEntitled, XeroApiError


class ReportFailed(XeroApiError):
    """Base: `report` (catalog name) could not be read for `tenant_id`."""

    reason = "failed"

    def __init__(
        self,
        report: str,
        tenant_id: str,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        correlation_id: str | None = None,
    ) -> None:
        self.report = report
        self.tenant_id = tenant_id
        super().__init__(status, report, detail or message, correlation_id, message=message)


class ReportNotAvailable(ReportFailed):
    """The organisation does not have this report (a 1099 outside the US, no budget, an
    unknown published report)."""

    reason = "not_available"


class UnknownTrackingCategory(ReportFailed):
    """The tracking category (or option) asked for is not the organisation's."""

    reason = "unknown_tracking_category"


class BeforeOrganisation(ReportFailed):
    """Every period asked for ends before the organisation existed in Xero."""

    reason = "before_organisation"


class ReportRejected(ReportFailed):
    """Xero refused the parameters (400 ValidationException) for another reason."""

    reason = "rejected"


class ReportScopeMissing(NotEntitled):
    """401 AuthorizationUnsuccessful on a report: the token lacks its scope."""

    reason = "scope_missing"

    def __init__(
        self,
        report: str,
        tenant_id: str,
        *,
        broad_scope: str,
        granular_scope: str,
        detail: str = "AuthorizationUnsuccessful",
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(
            report,
            broad_scopes=(broad_scope,),
            granular_scopes=(granular_scope,),
            detail=detail,
            correlation_id=correlation_id,
        )
        self.report = report
        self.tenant_id = tenant_id
        self.granular_scope = granular_scope
        message = (
            f"Xero refused the {report} report for tenant {tenant_id} (401 {detail}): the "
            f"token set was not granted {granular_scope} (or {broad_scope} for apps created "
            f"before 2 March 2026). Run `oauth-etl authorize` again (it asks for every "
            f"report scope a new app can have), or leave {report} out of the run."
        )
        if correlation_id:
            message += f" (Xero-Correlation-Id: {correlation_id})"
        self.args = (message,)

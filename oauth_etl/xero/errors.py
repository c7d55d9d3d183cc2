"""Errors of the Xero API layer.

Every message says what happened, where (endpoint, tenant, page), Xero's
correlation id (Xero support asks for it) and what to do. Nothing here ever
holds a request header, so no token can leak through an exception.
"""

from __future__ import annotations

from collections.abc import Sequence

from oauth_etl.xero.scopes import reauthorize_command

_MAX_DETAIL = 300


def _clip(text: str, limit: int = _MAX_DETAIL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class XeroError(Exception):
    """Base of every error raised by oauth_etl.xero."""


class XeroApiError(XeroError):
    """The Xero API answered with an error (or not usefully at all)."""

    def __init__(
        self,
        status: int | None,
        endpoint: str,
        detail: str,
        correlation_id: str | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.detail = _clip(detail)
        self.correlation_id = correlation_id
        text = message or f"Xero {endpoint} failed with HTTP {status}: {self.detail}"
        if correlation_id:
            text += f" (Xero-Correlation-Id: {correlation_id})"
        super().__init__(text)


class NotEntitled(XeroApiError):
    """401 AuthorizationUnsuccessful: the token lacks the scope (or the org the tier)."""

    def __init__(
        self,
        endpoint: str,
        *,
        broad_scopes: Sequence[str],
        granular_scopes: Sequence[str],
        advanced_tier: bool = False,
        detail: str = "AuthorizationUnsuccessful",
        correlation_id: str | None = None,
    ) -> None:
        self.broad_scopes = tuple(broad_scopes)
        self.granular_scopes = tuple(granular_scopes)
        self.advanced_tier = advanced_tier
        scopes = " ".join(self.granular_scopes or self.broad_scopes)
        parts = [
            f"Xero refused {endpoint} (401 {_clip(detail, 80)}): this connection is not entitled "
            "to it. Refreshing the token will not help."
        ]
        need = []
        if self.broad_scopes:
            need.append(f"broad scope {' or '.join(self.broad_scopes)} (apps before 2 March 2026)")
        if self.granular_scopes:
            need.append(f"granular scope {' or '.join(self.granular_scopes)}")
        if need:
            parts.append("It needs the " + ", or the ".join(need) + ".")
        if advanced_tier:
            parts.append(
                f"{endpoint} also requires Xero's paid Advanced API tier for the app; on lower "
                "tiers it always answers 401: leave it out of the selection or upgrade the tier."
            )
        # The granted scopes are not known here: the command keeps the default ones.
        parts.append(f"Re-authorize asking for it too: {reauthorize_command(scopes.split())}")
        super().__init__(401, endpoint, detail, correlation_id, message=" ".join(parts))


class TenantDisconnected(XeroApiError):
    """403: wrong tenant id, or the organisation disconnected the app."""

    def __init__(
        self,
        endpoint: str,
        tenant_id: str,
        *,
        detail: str = "AuthenticationUnsuccessful",
        correlation_id: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        message = (
            f"Xero refused {endpoint} for tenant {tenant_id} (403 {_clip(detail, 80)}): the "
            "organisation is not connected to this app (disconnected, or a wrong tenant id). "
            "Reconnect the organisation in Xero, then run `oauth-etl authorize`."
        )
        super().__init__(403, endpoint, detail, correlation_id, message=message)


class RateLimited(XeroApiError):
    """429 that we will not (or may no longer) wait out."""

    def __init__(
        self,
        endpoint: str,
        *,
        retry_after: float | None,
        problem: str | None = None,
        correlation_id: str | None = None,
        message: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.problem = problem
        text = message or (
            f"Xero rate limit ({problem or 'unspecified'}) on {endpoint}: asked to wait "
            f"{retry_after if retry_after is not None else 'an unknown time'} s, more than this "
            "run may wait. Run again later."
        )
        super().__init__(429, endpoint, f"rate limit: {problem}", correlation_id, message=text)


class DayLimitReached(RateLimited):
    """The tenant's daily call budget (5,000) is spent: stop, resume on the next run."""

    def __init__(
        self,
        endpoint: str,
        *,
        retry_after: float | None,
        correlation_id: str | None = None,
    ) -> None:
        wait = f"{retry_after:.0f} s" if retry_after is not None else "until the day resets"
        super().__init__(
            endpoint,
            retry_after=retry_after,
            problem="day",
            correlation_id=correlation_id,
            message=(
                f"Xero daily call limit reached for this tenant at {endpoint} (resets in {wait}). "
                "The run stops here and the next run resumes from the saved cursor."
            ),
        )


class MalformedResponse(XeroApiError):
    """A 2xx whose body is not the envelope we expect."""

    def __init__(
        self,
        endpoint: str,
        *,
        page: int | None,
        problem: str,
        body: bytes = b"",
        status: int | None = 200,
        correlation_id: str | None = None,
    ) -> None:
        self.page = page
        self.problem = problem
        self.first_bytes = body[:120]
        where = f"{endpoint} page {page}" if page is not None else endpoint
        snippet = self.first_bytes.decode("utf-8", errors="replace")
        message = (
            f"Xero {where} returned an unexpected body ({problem}); first bytes: {snippet!r}. "
            "Retry the run; if it persists, report it to Xero with the correlation id."
        )
        super().__init__(status, endpoint, problem, correlation_id, message=message)


class XeroUnavailable(XeroApiError):
    """5xx, 503 maintenance/offline, timeouts or transport errors after all retries."""

    def __init__(
        self,
        endpoint: str,
        *,
        attempts: int,
        status: int | None,
        detail: str,
        correlation_id: str | None = None,
    ) -> None:
        self.attempts = attempts
        what = f"HTTP {status}" if status is not None else "no response"
        message = (
            f"Xero {endpoint} unavailable after {attempts} attempts ({what}: {_clip(detail)}). "
            "Xero may be offline for maintenance or the organisation offline; run again later."
        )
        super().__init__(status, endpoint, detail, correlation_id, message=message)


class PagingIgnored(MalformedResponse):
    """Xero answered a paged read as if `page` were not there: stop before the budget goes."""

    def __init__(
        self,
        endpoint: str,
        *,
        page: int,
        problem: str,
        calls: int,
        sent_order: bool,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(endpoint, page=page, problem=problem, correlation_id=correlation_id)
        self.calls = calls
        remedy = (
            "A known Xero fault with `order` (tap-xero removed `order` for ManualJournals in "
            f"2022): set order=None for {endpoint} in oauth_etl/xero/catalog.py and run again; "
            "if it persists, report it to Xero with the correlation id."
            if sent_order
            else "Report it to Xero with the correlation id; the next run tries again."
        )
        message = (
            f"Xero ignored `page` on {endpoint} (page {page}: {problem}); stopped after "
            f"{calls} calls instead of spending the tenant's daily budget on copies. {remedy}"
        )
        if correlation_id:
            message += f" (Xero-Correlation-Id: {correlation_id})"
        self.args = (message,)

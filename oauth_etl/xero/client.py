"""The Xero Accounting API client: connections and lazy extractions.

`XeroClient.extract()` returns a lazy `Extraction` (xero/extraction.py): nothing
is fetched until it is iterated. How pages are read, and why no record is lost
while Xero's data changes under the read, is in xero/paging.py (the prefetch window
in xero/window.py); the cursor rules in xero/cursor.py; one request with retries and
error mapping in xero/http.py; the public data types in xero/types.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Unpack

import httpx
import orjson

from oauth_etl.oauth.closing import Closing
from oauth_etl.xero.catalog import Endpoint
from oauth_etl.xero.cursor import CLOCK_MARGIN
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl.xero.errors import MalformedResponse
from oauth_etl.xero.extraction import Extraction
from oauth_etl.xero.http import ApiHttp, ApiRequest, Counters, HttpOptions, Reply
from oauth_etl.xero.rate import AppBudget, RateBudget
from oauth_etl.xero.types import Connection, ExtractionStats, Progress

__all__ = ["Connection", "Extraction", "ExtractionStats", "Progress", "XeroClient"]


class XeroClient(Closing):
    """Reads the Accounting API with any `httpx.Auth` that puts the bearer token on."""

    def __init__(
        self,
        api_url: str,
        auth: httpx.Auth,
        *,
        page_size: int = 1000,
        max_in_flight: int = 5,
        prefetch_pages: int | None = None,
        max_rate_wait: float = 120.0,
        budget_factory: Callable[[str], RateBudget] | None = None,
        clock_margin: timedelta = CLOCK_MARGIN,
        **http: Unpack[HttpOptions],
    ) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000 (Xero's maximum)")
        if max_in_flight < 1:
            raise ValueError("max_attempts and max_in_flight must be at least 1")
        self.api_url = api_url.rstrip("/")
        self.page_size = page_size
        self.max_in_flight = max_in_flight
        self.prefetch_pages = prefetch_pages or 2 * max_in_flight
        self.clock_margin = clock_margin
        self.max_rate_wait = max_rate_wait
        self.http = ApiHttp(auth, max_in_flight=max_in_flight, max_rate_wait=max_rate_wait, **http)
        self._budget_factory = budget_factory or self._default_budget
        self._budgets: dict[str, RateBudget] = {}
        self._budgets_lock = threading.Lock()
        self._app_budget = AppBudget()  # one per client: every tenant's calls count

    @property
    def max_attempts(self) -> int:
        return self.http.max_attempts

    @property
    def max_rate_limit_waits(self) -> int:
        return self.http.max_rate_limit_waits

    def _default_budget(self, tenant_id: str) -> RateBudget:
        return RateBudget(
            tenant_id,
            max_in_flight=self.max_in_flight,
            max_wait=self.max_rate_wait,
            app=self._app_budget,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"XeroClient(api_url={self.api_url!r})"

    # -- public API -----------------------------------------------------------------------

    def budget(self, tenant_id: str) -> RateBudget:
        """This client's shared rate budget for a tenant (created on first use)."""
        with self._budgets_lock:
            found = self._budgets.get(tenant_id)
            if found is None:
                found = self._budgets[tenant_id] = self._budget_factory(tenant_id)
            return found

    def connections(self) -> list[Connection]:
        """The organisations (tenants) this token may read, from GET /connections.

        Lowercase, as Xero's OAuth guides spell it
        (developer.xero.com/documentation/guides/oauth2/auth-flow); the identity spec's
        `/Connections` is the same resource on Xero, not on every emulator.
        """
        reply = self.http.get(
            ApiRequest(
                f"{self.api_url}/connections",
                label="Connections",
                endpoint=None,
                tenant_id=None,
                params={},
                headers={},
                budget=None,
                counters=Counters(),
            )
        )
        try:
            rows = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise _malformed_connections(reply, f"not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise _malformed_connections(reply, "expected a JSON array")
        return [self._connection(row, reply) for row in rows]

    @staticmethod
    def _connection(row: object, reply: Reply) -> Connection:
        if not isinstance(row, dict) or not isinstance(row.get("tenantId"), str):
            raise _malformed_connections(reply, "a connection without a tenantId")

        def date(key: str) -> datetime | None:
            value = row.get(key)
            if not isinstance(value, str):
                return None
            try:
                return parse_xero_datetime(value)
            except ValueError:
                return None

        return Connection(
            id=str(row.get("id") or ""),
            tenant_id=row["tenantId"],
            tenant_name=row.get("tenantName"),
            tenant_type=row.get("tenantType"),
            auth_event_id=row.get("authEventId"),
            created=date("createdDateUtc"),
            updated=date("updatedDateUtc"),
        )

    def extract(
        self,
        endpoint: Endpoint,
        tenant_id: str,
        *,
        modified_since: datetime | None = None,
        budget: RateBudget | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        start_offset: int | None = None,
    ) -> Extraction:
        """A lazy extraction of one endpoint for one tenant (nothing is fetched yet).

        `modified_since` becomes If-Modified-Since where the endpoint supports it;
        `start_offset` resumes Journals after that JournalNumber.
        """
        if not tenant_id:
            raise ValueError("tenant_id is required: take it from XeroClient.connections()")
        return Extraction(
            self,
            endpoint,
            tenant_id,
            modified_since=modified_since,
            budget=budget or self.budget(tenant_id),
            on_progress=on_progress,
            start_offset=start_offset,
        )


def _malformed_connections(reply: Reply, problem: str) -> MalformedResponse:
    return MalformedResponse(
        "Connections",
        page=None,
        problem=problem,
        body=reply.body,
        correlation_id=reply.correlation_id,
    )

"""The Xero Accounting API client: paging, concurrency, rate budget, retries, errors.

`XeroClient.extract()` returns a lazy `Extraction`: nothing is fetched until it is
iterated. Page 1 comes first; once its `pagination.pageCount` is known the other
pages are fetched concurrently (never more than `max_in_flight` per tenant, a
bounded prefetch window so memory does not grow with the data) and yielded in
page order. Any API error raised while the consumer iterates propagates with its
message; a day limit ends the extraction cleanly (`stats.stopped_early`).

Why the cursor is safe
----------------------
Pages are requested with `order=UpdatedDateUTC ASC` wherever the endpoint
accepts `order`, and pages are yielded strictly in page order, stopping at the
first page that could not be fetched. So every record with an UpdatedDateUTC
earlier than the last one yielded has been yielded, and that timestamp is a safe
`If-Modified-Since` for the next run, also after a day limit cut the run short.
Where the order cannot be requested (LinkedTransactions) a partial extraction
keeps the previous cursor. The cursor is also capped at Xero's own clock
(`DateTimeUTC`) when page 1 was served: a record changed while we were paging
can move past the page count we were given, and the cap makes the next run pick
it up. `If-Modified-Since` is sent truncated to whole seconds (earlier, never
later). Delivery is therefore at least once; consumers dedupe on `id_field`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from oauth_etl.xero.catalog import ORDER_BY_UPDATED, UPDATED, Endpoint, Paging
from oauth_etl.xero.dates import if_modified_since_header, parse_xero_datetime, to_cursor
from oauth_etl.xero.envelope import Page, Record, parse_page
from oauth_etl.xero.errors import (
    DayLimitReached,
    MalformedResponse,
    NotEntitled,
    RateLimited,
    TenantDisconnected,
    XeroApiError,
    XeroUnavailable,
)
from oauth_etl.xero.rate import AppBudget, RateBudget

ACCOUNTING_PREFIX = "/api.xro/2.0/"
TENANT_HEADER = "xero-tenant-id"
CORRELATION_HEADER = "Xero-Correlation-Id"
SMALL_PAGE = 100  # `page`-only endpoints and Journals return up to 100 per call
DEFAULT_USER_AGENT = "oauth-etl/0.1 (python-httpx)"


# -- public data types ------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """One row of GET /Connections: an organisation this token may read."""

    id: str
    tenant_id: str
    tenant_name: str | None
    tenant_type: str | None
    auth_event_id: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class Progress:
    """Reported after every page yielded, and once more when the extraction ends."""

    endpoint: str
    tenant_id: str
    pages: int
    records: int
    pages_total: int | None  # from page 1's pagination, when the endpoint has one
    records_total: int | None
    api_calls: int
    elapsed_seconds: float
    done: bool = False


@dataclass
class ExtractionStats:
    endpoint: str
    tenant_id: str
    cursor_from: str | None = None
    cursor_to: str | None = None  # max cursor_field yielded, capped at Xero's clock; ISO UTC
    offset_from: int | None = None
    offset_to: int | None = None  # Journals: the last JournalNumber yielded
    api_calls: int = 0  # every HTTP attempt, retries included
    retries: int = 0
    rate_limited: int = 0
    pages: int = 0
    records: int = 0
    expected_records: int | None = None  # pagination.itemCount of page 1
    already_landed: int = 0  # repeated by If-Modified-Since's whole seconds; not yielded
    page_count: int | None = None  # pagination.pageCount of page 1
    complete: bool = False
    stopped_early: bool = False
    stop_reason: str | None = None
    headroom: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    first_page_seconds: float | None = None
    duration_seconds: float | None = None

    def as_metadata(self) -> dict[str, Any]:
        """A flat, JSON-friendly view (no secrets live here)."""
        out = {k: v for k, v in self.__dict__.items() if k != "headroom"}
        out["started_at"] = self.started_at.isoformat() if self.started_at else None
        for key, value in self.headroom.items():
            out[f"headroom_{key}"] = value
        return out


# -- internal signals -------------------------------------------------------------------------


class _Transient(Exception):
    """Worth another attempt: 5xx, 503, timeouts, transport errors."""

    def __init__(
        self, status: int | None, detail: str, correlation_id: str | None, retry_after: float | None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.correlation_id = correlation_id
        self.retry_after = retry_after


class _MinuteLimited(Exception):
    def __init__(self, retry_after: float | None, problem: str, correlation_id: str | None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after
        self.problem = problem
        self.correlation_id = correlation_id


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: httpx.Headers

    @property
    def correlation_id(self) -> str | None:
        value: str | None = self.headers.get(CORRELATION_HEADER)
        return value


class _Counters:
    """Thread-safe call counters shared by an extraction's workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.rate_limited = 0

    def add(self, *, calls: int = 0, retries: int = 0, rate_limited: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.retries += retries
            self.rate_limited += rate_limited


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def _error_detail(reply: _Reply) -> str:
    """A short, human description of an error body (never headers)."""
    text = reply.body[:2000]
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.decode("utf-8", errors="replace").strip() or f"HTTP {reply.status}"
    if isinstance(doc, dict):
        parts = [
            str(doc[key])
            for key in ("Title", "Detail", "Type", "Message", "error", "error_description")
            if doc.get(key)
        ]
        elements = doc.get("Elements")
        if isinstance(elements, list):
            for element in elements[:3]:
                errors = element.get("ValidationErrors") if isinstance(element, dict) else None
                if isinstance(errors, list):
                    parts.extend(str(e.get("Message")) for e in errors[:3] if isinstance(e, dict))
        if parts:
            return ": ".join(parts)
    return text.decode("utf-8", errors="replace").strip()


# -- the client -------------------------------------------------------------------------------


class XeroClient:
    """Reads the Accounting API with any `httpx.Auth` that puts the bearer token on."""

    def __init__(
        self,
        api_url: str,
        auth: httpx.Auth,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        page_size: int = 1000,
        max_in_flight: int = 5,
        prefetch_pages: int | None = None,
        max_rate_limit_waits: int = 10,
        max_rate_wait: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        budget_factory: Callable[[str], RateBudget] | None = None,
    ) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000 (Xero's maximum)")
        if max_attempts < 1 or max_in_flight < 1:
            raise ValueError("max_attempts and max_in_flight must be at least 1")
        self.api_url = api_url.rstrip("/")
        self.page_size = page_size
        self.max_in_flight = max_in_flight
        self.prefetch_pages = prefetch_pages or 2 * max_in_flight
        self.max_attempts = max_attempts
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_rate_wait = max_rate_wait
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            initial=backoff_base, max=backoff_cap, jitter=backoff_base
        )
        self._backoff_cap = backoff_cap
        self._budget_factory = budget_factory or self._default_budget
        self._budgets: dict[str, RateBudget] = {}
        self._budgets_lock = threading.Lock()
        self._app_budget = AppBudget()  # one per client: every tenant's calls count
        self._http = httpx.Client(
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max(10, 2 * max_in_flight),
                max_keepalive_connections=max(5, max_in_flight),
            ),
            headers={"Accept": "application/json", "User-Agent": user_agent},
            # Never follow a redirect with the bearer token on it.
            follow_redirects=False,
        )

    def _default_budget(self, tenant_id: str) -> RateBudget:
        return RateBudget(
            tenant_id,
            max_in_flight=self.max_in_flight,
            max_wait=self.max_rate_wait,
            app=self._app_budget,
        )

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
        """The organisations (tenants) this token may read, from GET /Connections."""
        reply = self._get(
            f"{self.api_url}/Connections",
            label="Connections",
            endpoint=None,
            tenant_id=None,
            params={},
            headers={},
            budget=None,
            counters=_Counters(),
        )
        try:
            rows = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise MalformedResponse(
                "Connections",
                page=None,
                problem=f"not JSON: {exc}",
                body=reply.body,
                correlation_id=reply.correlation_id,
            ) from None
        if not isinstance(rows, list):
            raise MalformedResponse(
                "Connections",
                page=None,
                problem="expected a JSON array",
                body=reply.body,
                correlation_id=reply.correlation_id,
            )
        return [self._connection(row, reply) for row in rows]

    @staticmethod
    def _connection(row: object, reply: _Reply) -> Connection:
        if not isinstance(row, dict) or not isinstance(row.get("tenantId"), str):
            raise MalformedResponse(
                "Connections",
                page=None,
                problem="a connection without a tenantId",
                body=reply.body,
                correlation_id=reply.correlation_id,
            )

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

    # -- one request, with retries ------------------------------------------------------

    def _get(
        self,
        url: str,
        *,
        label: str,
        endpoint: Endpoint | None,
        tenant_id: str | None,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        budget: RateBudget | None,
        counters: _Counters,
    ) -> _Reply:
        waits = 0
        while True:
            try:
                return self._get_with_retries(
                    url, label, endpoint, tenant_id, params, headers, budget, counters
                )
            except _MinuteLimited as limited:
                counters.add(rate_limited=1)
                waits += 1
                if waits > self.max_rate_limit_waits:
                    raise RateLimited(
                        label,
                        retry_after=limited.retry_after,
                        problem=limited.problem,
                        correlation_id=limited.correlation_id,
                        message=(
                            f"Xero kept answering 429 ({limited.problem}) on {label} after "
                            f"{waits - 1} waits; another client may be spending this tenant's "
                            "budget. Run again later."
                        ),
                    ) from None
                if budget is not None:
                    # Holds back every worker of this tenant; the next acquire sleeps.
                    budget.minute_limited(limited.retry_after, label, limited.correlation_id)
                else:
                    wait = limited.retry_after if limited.retry_after is not None else 60.0
                    if wait > self.max_rate_wait:
                        raise RateLimited(
                            label,
                            retry_after=limited.retry_after,
                            problem=limited.problem,
                            correlation_id=limited.correlation_id,
                        ) from None
                    self._sleep(wait)

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = error.retry_after if isinstance(error, _Transient) else None
        if asked is not None:
            return min(max(backoff, asked), self._backoff_cap)
        return backoff

    def _get_with_retries(
        self,
        url: str,
        label: str,
        endpoint: Endpoint | None,
        tenant_id: str | None,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        budget: RateBudget | None,
        counters: _Counters,
    ) -> _Reply:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=lambda _state: counters.add(retries=1),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(
                        url, label, endpoint, tenant_id, params, headers, budget, counters
                    )
        except _Transient as failed:
            raise XeroUnavailable(
                label,
                attempts=self.max_attempts,
                status=failed.status,
                detail=failed.detail,
                correlation_id=failed.correlation_id,
            ) from failed.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _attempt(
        self,
        url: str,
        label: str,
        endpoint: Endpoint | None,
        tenant_id: str | None,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        budget: RateBudget | None,
        counters: _Counters,
    ) -> _Reply:
        slot: AbstractContextManager[float] = (
            budget.slot(label) if budget is not None else nullcontext(0.0)
        )
        with slot as started:
            counters.add(calls=1)
            try:
                response = self._http.get(url, params=params, headers=headers)
            except httpx.RequestError as exc:  # transport errors and timeouts
                raise _Transient(None, f"{type(exc).__name__}: {exc}", None, None) from exc
            if budget is not None:
                budget.observe(response.headers, started)
        reply = _Reply(response.status_code, response.content, response.headers)
        self._classify(reply, label, endpoint, tenant_id, budget)
        return reply

    @staticmethod
    def _classify(
        reply: _Reply,
        label: str,
        endpoint: Endpoint | None,
        tenant_id: str | None,
        budget: RateBudget | None,
    ) -> None:
        status = reply.status
        if 200 <= status < 300 or status == 304:
            return
        cid = reply.correlation_id
        detail = _error_detail(reply)
        if status == 401:
            challenge = reply.headers.get("WWW-Authenticate", "")
            if "AuthorizationUnsuccessful" in detail or (
                "invalid_token" not in challenge and "TokenExpired" not in detail
            ):
                raise NotEntitled(
                    label,
                    broad_scopes=endpoint.broad_scopes if endpoint else (),
                    granular_scopes=endpoint.granular_scopes if endpoint else (),
                    advanced_tier=endpoint.advanced_tier if endpoint else False,
                    detail=detail,
                    correlation_id=cid,
                )
            raise XeroApiError(
                401,
                label,
                detail,
                cid,
                message=(
                    f"Xero rejected the access token on {label} ({detail}) even after the "
                    "auth layer's refresh: check `oauth-etl token status`, or run "
                    "`oauth-etl authorize`."
                ),
            )
        if status == 403:
            raise TenantDisconnected(
                label, tenant_id or "(none)", detail=detail, correlation_id=cid
            )
        if status == 429:
            retry_after = _retry_after(reply.headers)
            problem = (reply.headers.get("X-Rate-Limit-Problem") or "minute").strip().lower()
            if problem == "day":
                if budget is not None:
                    raise budget.day_limited(retry_after, label, cid)
                raise DayLimitReached(label, retry_after=retry_after, correlation_id=cid)
            raise _MinuteLimited(retry_after, problem, cid)
        if status >= 500:
            raise _Transient(status, detail, cid, _retry_after(reply.headers))
        raise XeroApiError(status, label, detail, cid)


# -- extraction -------------------------------------------------------------------------------


def _stamp(record: Record, field_name: str) -> datetime | None:
    """The record's cursor field as a datetime (None when absent or unreadable)."""
    raw = record.get(field_name)
    if not isinstance(raw, str):
        return None
    try:
        return parse_xero_datetime(raw)
    except ValueError:
        return None


class Extraction:
    """A lazy, single-use extraction of one endpoint for one tenant.

    Iterate it (or `records()`) for record dicts, or `pages()` for `Page`s, in
    page order. `stats` fills in as pages are yielded and is final once the
    iteration ends (normally, by an error, or by a day limit).
    """

    def __init__(
        self,
        client: XeroClient,
        endpoint: Endpoint,
        tenant_id: str,
        *,
        modified_since: datetime | None,
        budget: RateBudget,
        on_progress: Callable[[Progress], None] | None,
        start_offset: int | None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.tenant_id = tenant_id
        self.modified_since = modified_since if endpoint.incremental else None
        self.budget = budget
        self._on_progress = on_progress
        self._start_offset = start_offset
        self._counters = _Counters()
        self._consumed = False
        self._cancelled = threading.Event()
        self._clock_start = 0.0
        self._max_cursor: datetime | None = None
        self._max_offset: int | None = start_offset
        self._server_time: datetime | None = None
        self.stats = ExtractionStats(
            endpoint=endpoint.name,
            tenant_id=tenant_id,
            cursor_from=to_cursor(modified_since) if modified_since else None,
            offset_from=start_offset,
        )

    def __repr__(self) -> str:
        return f"Extraction(endpoint={self.endpoint.name!r}, tenant_id={self.tenant_id!r})"

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def records(self) -> Generator[Record, None, None]:
        for page in self.pages():
            yield from page.records

    def pages(self) -> Generator[Page, None, None]:
        if self._consumed:
            raise RuntimeError(
                "an Extraction can be iterated once; call XeroClient.extract() again"
            )
        self._consumed = True
        return self._run()

    # -- driving ----------------------------------------------------------------------------

    def _run(self) -> Generator[Page, None, None]:
        stats = self.stats
        stats.started_at = datetime.now().astimezone()
        self._clock_start = time.monotonic()
        try:
            paging = self.endpoint.paging
            if paging is Paging.NONE:
                yield self._emit(self._fetch(1))
            elif paging is Paging.OFFSET:
                yield from self._offset_pages()
            else:
                yield from self._numbered_pages()
            stats.complete = True
        except DayLimitReached as exc:
            stats.stopped_early = True
            stats.stop_reason = str(exc)
        finally:
            self._cancelled.set()
            self._finish()

    def _numbered_pages(self) -> Iterator[Page]:
        first = self._fetch(1)
        yield self._emit(first)
        pagination = first.pagination
        if pagination is not None:
            # Trust Xero's count, not the size we asked for: no extra empty call.
            self.stats.page_count = pagination.page_count
            self.stats.expected_records = pagination.item_count
            if pagination.page_count > 1:
                yield from self._concurrent(range(2, pagination.page_count + 1))
            return
        # No pagination object (page-only endpoints): a short page is the last one.
        asked = self.client.page_size if self.endpoint.paging is Paging.PAGE_SIZE else SMALL_PAGE
        got = len(first.records)
        full = asked if got >= asked else (got if got >= SMALL_PAGE else 0)
        previous, number = first, 1
        while full and len(previous.records) >= full:
            number += 1
            previous = self._fetch(number)
            yield self._emit(previous)

    def _concurrent(self, numbers: range) -> Iterator[Page]:
        window = max(self.client.prefetch_pages, 1)
        workers = min(self.client.max_in_flight, len(numbers))
        executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"xero-{self.endpoint.name}"
        )
        pending: deque[Future[Page]] = deque()
        upcoming = iter(numbers)

        def fill() -> None:
            while len(pending) < window:
                number = next(upcoming, None)
                if number is None:
                    return
                pending.append(executor.submit(self._fetch, number))

        try:
            fill()
            while pending:
                page = pending.popleft().result()  # a page's error surfaces here, in order
                fill()
                yield self._emit(page)
        finally:
            self._cancelled.set()
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def _offset_pages(self) -> Iterator[Page]:
        field_name = self.endpoint.offset_field or "JournalNumber"
        offset = self._start_offset or 0
        number = 0
        while True:
            number += 1
            page = self._fetch(number, offset=offset)
            yield self._emit(page)
            if len(page.records) < SMALL_PAGE:
                return
            numbers = [
                value
                for record in page.records
                if isinstance(value := record.get(field_name), int) and not isinstance(value, bool)
            ]
            highest = max(numbers, default=None)
            if highest is None or highest <= offset:
                raise MalformedResponse(
                    self.endpoint.path,
                    page=number,
                    problem=f"a full page whose {field_name} does not pass offset {offset}",
                )
            offset = highest

    # -- one page ---------------------------------------------------------------------------

    def _fetch(self, number: int, *, offset: int | None = None) -> Page:
        endpoint = self.endpoint
        if self._cancelled.is_set() and number > 1:
            raise RuntimeError("extraction cancelled")
        params = dict(endpoint.params)
        if endpoint.paging is Paging.PAGE_SIZE:
            params["page"] = str(number)
            params["pageSize"] = str(self.client.page_size)
        elif endpoint.paging is Paging.PAGE:
            params["page"] = str(number)
        elif endpoint.paging is Paging.OFFSET:
            params["offset"] = str(offset or 0)
        if endpoint.order and endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE):
            params["order"] = endpoint.order
        headers = {TENANT_HEADER: self.tenant_id}
        if self.modified_since is not None:
            headers["If-Modified-Since"] = if_modified_since_header(self.modified_since)
        reply = self.client._get(
            f"{self.client.api_url}{ACCOUNTING_PREFIX}{endpoint.path}",
            label=endpoint.path,
            endpoint=endpoint,
            tenant_id=self.tenant_id,
            params=params,
            headers=headers,
            budget=self.budget,
            counters=self._counters,
        )
        if reply.status == 304:  # nothing modified since
            return Page(number=number, records=[], pagination=None, server_time=None, warnings=[])
        return parse_page(
            reply.body,
            endpoint.record_key,
            endpoint=endpoint.path,
            page=number,
            correlation_id=reply.correlation_id,
        )

    # -- bookkeeping (consumer thread only) -------------------------------------------------

    def _emit(self, page: Page) -> Page:
        stats = self.stats
        if page.number == 1:
            stats.first_page_seconds = round(time.monotonic() - self._clock_start, 3)
            self._server_time = page.server_time
        cursor_field = self.endpoint.cursor_field
        offset_field = self.endpoint.offset_field
        # If-Modified-Since has whole seconds, so Xero repeats the records of the
        # cursor's own second. The cursor is the newest stamp already landed and
        # anything changed after that read is stamped later: drop what is not newer.
        floor = self.modified_since if cursor_field is not None else None
        kept: list[Record] = []
        for record in page.records:
            if offset_field is not None:
                value = record.get(offset_field)
                if isinstance(value, int) and not isinstance(value, bool):
                    self._max_offset = max(value, self._max_offset or 0)
            if cursor_field is not None:
                when = _stamp(record, cursor_field)
                if when is not None and floor is not None and when <= floor:
                    stats.already_landed += 1
                    continue
                if when is not None and (self._max_cursor is None or when > self._max_cursor):
                    self._max_cursor = when
            kept.append(record)
        stats.pages += 1
        stats.records += len(kept)
        self._sync_counters()
        stats.offset_to = self._max_offset
        self._report(done=False)
        # Paging decisions use the page as fetched; consumers get the records to land.
        return page if len(kept) == len(page.records) else replace(page, records=kept)

    def _sync_counters(self) -> None:
        self.stats.api_calls = self._counters.calls
        self.stats.retries = self._counters.retries
        self.stats.rate_limited = self._counters.rate_limited

    def _safe_to_resume_from_partial(self) -> bool:
        endpoint = self.endpoint
        if endpoint.paging in (Paging.NONE, Paging.OFFSET):
            return True  # single call, or sequential in JournalNumber order
        return endpoint.order == ORDER_BY_UPDATED and endpoint.cursor_field == UPDATED

    def _finish(self) -> None:
        stats = self.stats
        self._sync_counters()
        stats.duration_seconds = round(time.monotonic() - self._clock_start, 3)
        stats.headroom = self.budget.snapshot()
        previous = self.modified_since
        candidate = self._max_cursor
        if not stats.complete and not self._safe_to_resume_from_partial():
            candidate = None
        if candidate is not None and self._server_time is not None:
            candidate = min(candidate, self._server_time)
        if candidate is not None and previous is not None:
            candidate = max(candidate, previous)
        final = candidate or previous
        stats.cursor_to = to_cursor(final) if final is not None else None
        self._report(done=True)

    def _report(self, *, done: bool) -> None:
        if self._on_progress is None:
            return
        stats = self.stats
        self._on_progress(
            Progress(
                endpoint=self.endpoint.name,
                tenant_id=self.tenant_id,
                pages=stats.pages,
                records=stats.records,
                pages_total=stats.page_count,
                records_total=stats.expected_records,
                api_calls=stats.api_calls,
                elapsed_seconds=round(time.monotonic() - self._clock_start, 3),
                done=done,
            )
        )

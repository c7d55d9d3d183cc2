"""XeroClient against an in-process fake Xero (httpx.MockTransport)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from oauth_etl.xero.catalog import CATALOG, endpoint
from oauth_etl.xero.client import Progress, XeroClient
from oauth_etl.xero.dates import from_cursor, parse_xero_datetime
from oauth_etl.xero.errors import (
    MalformedResponse,
    NotEntitled,
    RateLimited,
    TenantDisconnected,
    XeroApiError,
    XeroError,
    XeroUnavailable,
)
from oauth_etl.xero.rate import RateBudget
from oauth_etl_tests.xero.fake_xero import (
    BASE,
    TENANT,
    TOKEN,
    BearerAuth,
    FakeXero,
    always,
    any_request,
    make_records,
    once,
    page_is,
)

ENDPOINTS = {e.path: e for e in CATALOG}


def fast_budget(tenant: str) -> RateBudget:
    return RateBudget(tenant, per_minute=10_000, window_seconds=1.0)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(fake: FakeXero, sleeps: Sleeps | None = None, **kwargs: Any) -> XeroClient:
    kwargs.setdefault("budget_factory", fast_budget)
    return XeroClient(
        "https://api.example.test",
        BearerAuth(),
        transport=fake.transport(),
        sleep=sleeps if sleeps is not None else (lambda s: None),
        **kwargs,
    )


def fake_with(path: str, n: int, **kwargs: Any) -> FakeXero:
    e = ENDPOINTS[path]
    return FakeXero(endpoints=ENDPOINTS, data={path: make_records(e, n)}, **kwargs)


def extract_all(client: XeroClient, name: str, **kwargs: Any) -> tuple[list[dict[str, Any]], Any]:
    extraction = client.extract(endpoint(name), TENANT, **kwargs)
    records = list(extraction)
    return records, extraction.stats


def capture(excinfo: pytest.ExceptionInfo[BaseException]) -> BaseException:
    return excinfo.value


# -- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "calls"), [(0, 1), (999, 1), (1000, 1), (2000, 2), (2001, 3)])
def test_page_size_paging_trusts_page_count_no_extra_call(n: int, calls: int) -> None:
    fake = fake_with("Invoices", n)
    with make(fake) as client:
        records, stats = extract_all(client, "invoices")
    assert [r["Seq"] for r in records] == list(range(n))
    assert len(fake.calls) == calls == stats.api_calls
    assert stats.pages == calls
    assert stats.expected_records == n
    assert stats.complete and not stats.stopped_early
    first = fake.calls[0].url.params
    assert first["pageSize"] == "1000"
    assert first["page"] == "1"
    assert first["order"] == "UpdatedDateUTC ASC"
    assert first["includeArchived"] == "true"
    assert fake.calls[0].headers["xero-tenant-id"] == TENANT


def test_page_count_is_trusted_over_the_requested_size() -> None:
    fake = fake_with("Contacts", 250, server_page_size=100)  # server ignores pageSize=1000
    with make(fake) as client:
        records, stats = extract_all(client, "contacts")
    assert len(records) == 250
    assert len(fake.calls) == 3
    assert stats.page_count == 3


@pytest.mark.parametrize(("n", "calls"), [(0, 1), (50, 1), (200, 3), (250, 3)])
def test_page_only_paging_stops_at_a_short_page(n: int, calls: int) -> None:
    fake = fake_with("Quotes", n)
    with make(fake) as client:
        records, _ = extract_all(client, "quotes")
    assert len(records) == n
    assert len(fake.calls) == calls
    assert "pageSize" not in fake.calls[0].url.params
    assert fake.calls[0].url.params["order"] == "UpdatedDateUTC ASC"


def test_linked_transactions_send_no_order() -> None:
    fake = fake_with("LinkedTransactions", 120)
    with make(fake) as client:
        records, _ = extract_all(client, "linked_transactions")
    assert len(records) == 120
    assert all("order" not in c.url.params for c in fake.calls)


@pytest.mark.parametrize(
    ("n", "offsets"), [(0, ["0"]), (250, ["0", "100", "200"]), (200, ["0", "100", "200"])]
)
def test_journals_page_by_offset(n: int, offsets: list[str]) -> None:
    fake = fake_with("Journals", n)
    with make(fake) as client:
        records, stats = extract_all(client, "journals")
    assert [r["JournalNumber"] for r in records] == list(range(1, n + 1))
    assert [c.url.params["offset"] for c in fake.calls] == offsets
    assert stats.offset_to == (n or None)


def test_journals_resume_from_an_offset() -> None:
    fake = fake_with("Journals", 250)
    with make(fake) as client:
        records, stats = extract_all(client, "journals", start_offset=180)
    assert [r["JournalNumber"] for r in records] == list(range(181, 251))
    assert stats.offset_from == 180 and stats.offset_to == 250


def test_single_call_endpoints_make_one_call_without_paging_params() -> None:
    for e in CATALOG:
        if e.paging.name != "NONE":
            continue
        fake = fake_with(e.path, 3)
        with make(fake) as client:
            records, stats = extract_all(client, e.name)
        assert len(records) == 3 and stats.api_calls == 1, e.path
        params = fake.calls[0].url.params
        assert "page" not in params and "offset" not in params
        assert fake.calls[0].url.path == f"/api.xro/2.0/{e.path}"


def test_if_modified_since_only_for_incremental_endpoints() -> None:
    since = datetime(2024, 3, 1, 12, 30, 45, 123000, tzinfo=UTC)
    fake = fake_with("Invoices", 5)
    with make(fake) as client:
        _, stats = extract_all(client, "invoices", modified_since=since)
    assert fake.calls[0].headers["If-Modified-Since"] == "2024-03-01T12:30:45"
    assert stats.cursor_from == "2024-03-01T12:30:45.123000Z"
    fake = fake_with("TaxRates", 5)
    with make(fake) as client:
        extract_all(client, "tax_rates", modified_since=since)
    assert "If-Modified-Since" not in fake.calls[0].headers


def test_not_modified_304_is_an_empty_page() -> None:
    fake = fake_with("Accounts", 5)
    fake.faults.append(always(any_request, lambda: httpx.Response(304)))
    with make(fake) as client:
        records, stats = extract_all(client, "accounts", modified_since=BASE)
    assert records == [] and stats.complete


# -- laziness, concurrency, order ---------------------------------------------------------------


def test_extraction_is_lazy_and_single_use() -> None:
    fake = fake_with("Invoices", 10)
    with make(fake) as client:
        extraction = client.extract(endpoint("invoices"), TENANT)
        assert fake.calls == []
        assert len(list(extraction.records())) == 10
        with pytest.raises(RuntimeError, match="once"):
            list(extraction)


def test_concurrent_pages_keep_order_and_the_in_flight_cap() -> None:
    fake = fake_with("BankTransactions", 3000, delay=(0.0, 0.02))
    with make(fake, page_size=100) as client:
        records, stats = extract_all(client, "bank_transactions")
    assert [r["Seq"] for r in records] == list(range(3000))
    assert stats.api_calls == 30
    assert fake.max_in_flight == 5
    pages = sorted(int(c.url.params["page"]) for c in fake.calls)
    assert pages == list(range(1, 31))


def test_in_flight_cap_is_per_tenant_across_extractions() -> None:
    fake = FakeXero(
        endpoints=ENDPOINTS,
        data={p: make_records(ENDPOINTS[p], 1000) for p in ("Invoices", "Contacts")},
        delay=(0.005, 0.02),
    )
    import threading

    with make(fake, page_size=50) as client:
        results: dict[str, int] = {}

        def run(name: str) -> None:
            results[name] = sum(1 for _ in client.extract(endpoint(name), TENANT))

        threads = [threading.Thread(target=run, args=(n,)) for n in ("invoices", "contacts")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {"invoices": 1000, "contacts": 1000}
    assert fake.max_in_flight <= 5


def test_prefetch_window_bounds_memory_for_a_slow_consumer() -> None:
    fake = fake_with("Payments", 2000)
    with make(fake, page_size=50, prefetch_pages=4) as client:
        extraction = client.extract(endpoint("payments"), TENANT)
        pages = extraction.pages()
        next(pages)
        time.sleep(0.2)  # the consumer dawdles; fetching must not run ahead
        assert len(fake.calls) <= 1 + 4 + 1
        rest = sum(len(p.records) for p in pages)
    assert rest == 1950


def test_abandoning_the_iteration_stops_fetching() -> None:
    fake = fake_with("Payments", 5000)
    with make(fake, page_size=100) as client:
        extraction = client.extract(endpoint("payments"), TENANT)
        pages = extraction.pages()
        next(pages)
        next(pages)
        pages.close()
        made = len(fake.calls)
        time.sleep(0.05)
        assert len(fake.calls) == made < 50
    assert not extraction.stats.complete


def test_progress_is_reported_per_page_with_announced_totals() -> None:
    seen: list[Progress] = []
    fake = fake_with("Invoices", 450)
    with make(fake, page_size=100) as client:
        list(client.extract(endpoint("invoices"), TENANT, on_progress=seen.append))
    assert [p.pages for p in seen] == [1, 2, 3, 4, 5, 5]
    assert [p.records for p in seen][-1] == 450
    assert all(p.pages_total == 5 and p.records_total == 450 for p in seen[1:])
    assert seen[-1].done and not any(p.done for p in seen[:-1])


def test_cursor_is_the_max_seen_and_capped_at_xero_clock() -> None:
    fake = fake_with("Invoices", 30)
    fake.data["Invoices"].reverse()  # max is not last
    with make(fake) as client:
        _, stats = extract_all(client, "invoices")
    # Just past the newest stamp read: a complete read has read its ties too.
    assert from_cursor(stats.cursor_to) == BASE + timedelta(minutes=29, microseconds=1)
    fake = fake_with("Invoices", 30, server_time=BASE + timedelta(minutes=10, seconds=30))
    with make(fake) as client:
        _, stats = extract_all(client, "invoices")
    # Capped at Xero's clock at page 1 less the margin for saves in flight.
    assert from_cursor(stats.cursor_to) == BASE + timedelta(minutes=10, seconds=25)


def test_cursor_never_moves_back_and_is_kept_when_nothing_changed() -> None:
    since = BASE + timedelta(days=30)
    fake = FakeXero(endpoints=ENDPOINTS, data={"Invoices": []})
    with make(fake) as client:
        _, stats = extract_all(client, "invoices", modified_since=since)
    assert from_cursor(stats.cursor_to) == since


# -- retries and errors -----------------------------------------------------------------------


def test_5xx_then_success_is_retried_with_capped_backoff(sleeps: Sleeps) -> None:
    fake = fake_with("Invoices", 10)
    for status in (500, 502):
        fake.faults.append(once(page_is(1), httpx.Response(status, text="boom")))
    fake.faults.append(
        once(
            page_is(1),
            httpx.Response(503, text="The Xero API is currently offline for maintenance"),
        )
    )
    with make(fake, sleeps, backoff_base=1.0, backoff_cap=4.0) as client:
        records, stats = extract_all(client, "invoices")
    assert len(records) == 10
    assert stats.api_calls == 4 and stats.retries == 3
    assert len(sleeps) == 3 and all(0 < s <= 4.0 for s in sleeps)


def test_retries_are_bounded_and_name_endpoint_and_correlation_id(sleeps: Sleeps) -> None:
    fake = fake_with("Invoices", 10)
    fake.faults.append(
        always(
            any_request,
            lambda: httpx.Response(
                503,
                text="The Xero API is currently offline for maintenance",
                headers={"Xero-Correlation-Id": "corr-maint"},
            ),
        )
    )
    with make(fake, sleeps, max_attempts=4) as client, pytest.raises(XeroUnavailable) as info:
        list(client.extract(endpoint("invoices"), TENANT))
    error = capture(info)
    assert len(fake.calls) == 4 and len(sleeps) == 3
    assert "Invoices" in str(error) and "corr-maint" in str(error) and "maintenance" in str(error)


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")]
)
def test_transport_errors_and_timeouts_are_retried(sleeps: Sleeps, exc: Exception) -> None:
    fake = fake_with("Contacts", 10)
    failures = iter([exc, exc])

    def flaky(request: httpx.Request) -> httpx.Response | None:
        error = next(failures, None)
        if error is not None:
            raise error
        return None

    fake.faults.append(flaky)
    with make(fake, sleeps) as client:
        records, stats = extract_all(client, "contacts")
    assert len(records) == 10 and stats.api_calls == 3 and len(sleeps) == 2

    fake.faults = [always(any_request, lambda: (_ for _ in ()).throw(httpx.ReadTimeout("slow")))]
    with make(fake, sleeps, max_attempts=3) as client, pytest.raises(XeroUnavailable) as info:
        list(client.extract(endpoint("contacts"), TENANT))
    assert "no response" in str(capture(info)) and "ReadTimeout" in str(info.value)


def test_every_request_has_a_timeout() -> None:
    fake = fake_with("Invoices", 1)
    with make(fake, timeout=7.5) as client:
        list(client.extract(endpoint("invoices"), TENANT))
    timeouts = fake.calls[0].extensions["timeout"]
    assert timeouts["read"] == 7.5 and timeouts["connect"] is not None


UNAUTHORIZED = {"Title": "Unauthorized", "Status": 401, "Detail": "AuthorizationUnsuccessful"}


def test_401_authorization_unsuccessful_names_scopes_and_tier_without_retry() -> None:
    fake = fake_with("Journals", 10)
    fake.faults.append(always(any_request, lambda: httpx.Response(401, json=UNAUTHORIZED)))
    with make(fake) as client, pytest.raises(NotEntitled) as info:
        list(client.extract(endpoint("journals"), TENANT))
    message = str(capture(info))
    assert len(fake.calls) == 1
    assert "accounting.journals.read" in message and "Advanced" in message
    # The suggested command keeps offline_access (and the default scopes): the union.
    suggested = message.split("oauth-etl authorize --scopes ", 1)[1].split('"')[1].split()
    assert {"offline_access", "accounting.journals.read", "accounting.invoices.read"} <= set(
        suggested
    )

    fake = fake_with("Invoices", 10)
    fake.faults.append(always(any_request, lambda: httpx.Response(401, json=UNAUTHORIZED)))
    with make(fake) as client, pytest.raises(NotEntitled) as info:
        list(client.extract(endpoint("invoices"), TENANT))
    message = str(capture(info))
    assert "accounting.transactions.read" in message and "accounting.invoices.read" in message
    assert "Advanced" not in message


def test_401_token_expired_is_reported_as_a_token_problem() -> None:
    fake = fake_with("Invoices", 10)
    body = {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at x"}
    fake.faults.append(
        always(
            any_request,
            lambda: httpx.Response(
                401, json=body, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ),
        )
    )
    with make(fake) as client, pytest.raises(XeroApiError) as info:
        list(client.extract(endpoint("invoices"), TENANT))
    assert not isinstance(capture(info), NotEntitled)
    assert "oauth-etl authorize" in str(info.value)


def test_403_is_tenant_disconnected_naming_the_tenant() -> None:
    fake = fake_with("Invoices", 10)
    forbidden = {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"}
    fake.faults.append(always(any_request, lambda: httpx.Response(403, json=forbidden)))
    with make(fake) as client, pytest.raises(TenantDisconnected) as info:
        list(client.extract(endpoint("invoices"), TENANT))
    message = str(capture(info))
    assert TENANT in message and "oauth-etl authorize" in message and "reconnect" in message.lower()
    assert len(fake.calls) == 1


def test_400_validation_error_is_not_retried() -> None:
    fake = fake_with("Invoices", 10)
    body = {"ErrorNumber": 10, "Type": "ValidationException", "Message": "bad order"}
    fake.faults.append(always(any_request, lambda: httpx.Response(400, json=body)))
    with make(fake) as client, pytest.raises(XeroApiError, match="bad order") as info:
        list(client.extract(endpoint("invoices"), TENANT))
    capture(info)
    assert len(fake.calls) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>gateway</html>", "not JSON"),
        (b'{"Invoices": [{"InvoiceID": "a"}', "not JSON"),  # truncated
        (b"[]", "expected a JSON object"),
        (b'{"Contacts": []}', "no 'Invoices'"),
        (b'{"Invoices": {"a": 1}}', "not a list"),
        (b'{"Invoices": [1, 2]}', "not an object"),
        (b'{"Invoices": [], "pagination": []}', "pagination is list"),
        (
            b'{"Invoices": [], "pagination": '
            b'{"page": 1, "pageSize": 100, "pageCount": "3", "itemCount": 1}}',
            "pageCount",
        ),
    ],
)
def test_malformed_bodies_name_endpoint_page_and_correlation_id(body: bytes, problem: str) -> None:
    fake = fake_with("Invoices", 3000)
    fake.faults.append(
        always(
            page_is(2),
            lambda: httpx.Response(200, content=body, headers={"Xero-Correlation-Id": "corr-bad"}),
        )
    )
    got: list[dict[str, Any]] = []
    with make(fake) as client, pytest.raises(MalformedResponse) as info:
        for record in client.extract(endpoint("invoices"), TENANT):
            got.append(record)
    error = info.value
    assert len(got) == 1000  # page 1 was yielded before page 2's error surfaced
    assert problem in str(error)
    assert "Invoices page 2" in str(error) and "corr-bad" in str(error)
    assert error.page == 2 and error.correlation_id == "corr-bad"


def test_error_mid_iteration_propagates_after_earlier_pages() -> None:
    fake = fake_with("Invoices", 5000)
    fake.faults.append(always(page_is(4), lambda: httpx.Response(500, text="kaput")))
    seen = 0
    with (
        make(fake, max_attempts=2) as client,
        pytest.raises(XeroUnavailable, match="kaput") as info,
    ):
        for _ in client.extract(endpoint("invoices"), TENANT):
            seen += 1
    capture(info)
    assert seen == 3000


# -- rate limits --------------------------------------------------------------------------------


def test_minute_429_waits_retry_after_and_continues() -> None:
    clock_sleeps: list[float] = []
    now = [0.0]

    def sleep(s: float) -> None:
        clock_sleeps.append(s)
        now[0] += s

    def factory(tenant: str) -> RateBudget:
        return RateBudget(tenant, clock=lambda: now[0], sleep=sleep)

    fake = fake_with("Invoices", 10)
    fake.faults.append(
        once(
            any_request,
            httpx.Response(429, headers={"Retry-After": "7", "X-Rate-Limit-Problem": "minute"}),
        )
    )
    with make(fake, budget_factory=factory) as client:
        records, stats = extract_all(client, "invoices")
    assert len(records) == 10
    assert stats.rate_limited == 1 and stats.api_calls == 2
    assert sum(clock_sleeps) >= 7.0
    assert stats.headroom["rate_limited"] == 1


def test_endless_minute_429s_give_up_with_rate_limited() -> None:
    fake = fake_with("Invoices", 10)
    fake.faults.append(
        always(any_request, lambda: httpx.Response(429, headers={"Retry-After": "0"}))
    )
    with make(fake, max_rate_limit_waits=3) as client, pytest.raises(RateLimited) as info:
        list(client.extract(endpoint("invoices"), TENANT))
    capture(info)
    assert len(fake.calls) == 4


def test_day_429_stops_cleanly_with_the_last_safe_cursor() -> None:
    fake = fake_with("Invoices", 5000, delay=(0.0, 0.01))
    fake.faults.append(
        always(
            page_is(3),
            lambda: httpx.Response(
                429, headers={"Retry-After": "40000", "X-Rate-Limit-Problem": "day"}
            ),
        )
    )
    with make(fake) as client:
        extraction = client.extract(endpoint("invoices"), TENANT)
        records = list(extraction)  # no exception: a clean stop
        stats = extraction.stats
        # The budget now fails fast for this tenant: the next extraction stops at once.
        again = client.extract(endpoint("contacts"), TENANT)
        assert list(again) == [] and again.stats.stopped_early
    assert [r["Seq"] for r in records] == list(range(2000))
    assert stats.stopped_early and not stats.complete
    assert "daily call limit" in (stats.stop_reason or "")
    # A concurrent read proves only page 1 until its last page is read (a save during
    # the read may have shifted a record of page 3 into page 2): resume from page 1's end.
    page1_end = parse_xero_datetime(records[999]["UpdatedDateUTC"])
    assert stats.cursor_to is not None and from_cursor(stats.cursor_to) == page1_end


def test_day_limit_on_an_unordered_endpoint_keeps_the_previous_cursor() -> None:
    since = BASE - timedelta(days=1)
    fake = fake_with("LinkedTransactions", 500)
    fake.faults.append(
        always(
            page_is(3),
            lambda: httpx.Response(429, headers={"X-Rate-Limit-Problem": "day"}),
        )
    )
    with make(fake) as client:
        extraction = client.extract(endpoint("linked_transactions"), TENANT, modified_since=since)
        records = list(extraction)
    assert len(records) == 200 and extraction.stats.stopped_early
    # LinkedTransactions is a snapshot endpoint: modified_since is ignored and no cursor is safe.
    assert extraction.stats.cursor_to is None


def test_day_remaining_zero_in_headers_stops_before_a_wasted_call() -> None:
    fake = fake_with("Invoices", 3000, day_remaining=2)
    with make(fake) as client:
        extraction = client.extract(endpoint("invoices"), TENANT)
        records = list(extraction)
    # Page 1 reported 1 call left: too few for a concurrent read, so it reads by keyset
    # (every page keeps its progress); page 2 used the last call; page 3 is not attempted.
    assert extraction.stats.stopped_early and extraction.stats.read_mode == "keyset"
    assert len(fake.calls) == 2
    # Page 2 starts at page 1's last second, so it holds 999 new records.
    assert [r["Seq"] for r in records] == list(range(1999))
    assert extraction.stats.duplicates == 1
    # Everything before the last record yielded was read: the cursor may move there.
    assert extraction.stats.cursor_to is not None
    assert from_cursor(extraction.stats.cursor_to) == BASE + timedelta(minutes=1998)


def test_pacing_draws_no_429() -> None:
    # 60 calls a "minute" of 1.5 s, 5 in flight, 20 ms latency. Wall time against the
    # rate-limit bound is a benchmark figure (bench/), not a test.
    def factory(tenant: str) -> RateBudget:
        return RateBudget(tenant, window_seconds=1.5)

    fake = fake_with("Invoices", 30 * 20, delay=(0.02, 0.02))
    with make(fake, page_size=20, budget_factory=factory) as client:
        records, stats = extract_all(client, "invoices")
    assert len(records) == 600 and stats.api_calls == 30
    assert stats.rate_limited == 0


# -- connections and secrets ------------------------------------------------------------------


def test_connections_are_parsed() -> None:
    rows = [
        {
            "id": "c1",
            "authEventId": "a1",
            "tenantId": TENANT,
            "tenantType": "ORGANISATION",
            "tenantName": "Demo Company (NZ)",
            "createdDateUtc": "2019-07-09T23:40:30.1833130",
            "updatedDateUtc": "2020-05-19T03:31:39.6943460",
        }
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/connections"  # lowercase, as Xero's OAuth guides
        assert "xero-tenant-id" not in request.headers
        return httpx.Response(200, json=rows)

    with XeroClient(
        "https://api.example.test/", BearerAuth(), transport=httpx.MockTransport(handler)
    ) as client:
        (conn,) = client.connections()
    assert conn.tenant_id == TENANT and conn.tenant_name == "Demo Company (NZ)"
    assert conn.tenant_type == "ORGANISATION" and conn.id == "c1"
    assert conn.created == datetime(2019, 7, 9, 23, 40, 30, 183313, tzinfo=UTC)


def test_connections_malformed() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"oops": 1}))
    with (
        XeroClient("https://x.test", BearerAuth(), transport=transport) as client,
        pytest.raises(MalformedResponse, match="Connections") as info,
    ):
        client.connections()
    capture(info)


LEAK_SCENARIOS = [
    (401, {"Title": "Unauthorized", "Detail": "AuthorizationUnsuccessful"}),
    (401, {"Title": "Unauthorized", "Detail": "TokenExpired: token expired"}),
    (403, {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"}),
    (400, {"Type": "ValidationException", "Message": "bad"}),
    (404, "not here"),
    (500, "boom"),
    (503, "The Xero API is currently offline for maintenance"),
    (200, "<html>not json</html>"),
    (429, {"Title": "Too many"}),
    ("transport", None),
]


@pytest.mark.parametrize(("status", "body"), LEAK_SCENARIOS)
def test_no_error_text_ever_contains_the_token(status: Any, body: Any) -> None:
    fake = fake_with("Invoices", 10)

    def respond(request: httpx.Request) -> httpx.Response:
        if status == "transport":
            raise httpx.ConnectError(f"failed for {request.url}")
        headers = {"Retry-After": "99999", "X-Rate-Limit-Problem": "minute"}
        if isinstance(body, dict):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, text=body, headers=headers)

    fake.faults.append(respond)
    with make(fake, max_attempts=2, max_rate_wait=5) as client, pytest.raises(XeroError) as info:
        list(client.extract(endpoint("invoices"), TENANT))
    error = info.value
    chain = [error, error.__cause__, error.__context__]
    for item in chain:
        for text in (str(item), repr(item), repr(getattr(item, "__dict__", ""))):
            assert TOKEN not in text
            assert "Bearer" not in text


def test_repr_and_metadata_hold_no_secret() -> None:
    fake = fake_with("Invoices", 10)
    with make(fake) as client:
        extraction = client.extract(endpoint("invoices"), TENANT)
        list(extraction)
        text = (
            repr(client)
            + repr(extraction)
            + str(orjson.dumps(extraction.stats.as_metadata(), default=str))
        )
    assert TOKEN not in text

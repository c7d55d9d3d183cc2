"""Issue #12, each finding as a test: no record is lost while Xero's data changes.

Each of these failed on the client before the fix (see the commit that added them).
The guarantee checked: after a run and the next one, every record that existed when
the first run started has landed in a version at least as new as the one it had then.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from oauth_etl.xero.catalog import endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.dates import from_cursor
from oauth_etl.xero.errors import MalformedResponse, NotEntitled, XeroApiError
from oauth_etl.xero.rate import RateBudget
from oauth_etl_tests.xero.fake_xero import (
    ENDPOINTS_BY_PATH,
    TENANT,
    BearerAuth,
    FakeXero,
    dotnet,
    make_records,
)
from oauth_etl_tests.xero.model_xero import BASE, ID, ModelXero

Landed = dict[str, int]  # id -> newest version landed


def fast_budget(tenant: str) -> RateBudget:
    return RateBudget(tenant, per_minute=100_000, window_seconds=1.0)


def client_for(transport: httpx.BaseTransport, **kwargs: Any) -> XeroClient:
    kwargs.setdefault("budget_factory", fast_budget)
    return XeroClient(
        "https://api.example.test",
        BearerAuth(),
        transport=transport,
        sleep=lambda s: None,
        **kwargs,
    )


def run(model: ModelXero, since: str | None, **kwargs: Any) -> tuple[list[dict[str, Any]], Any]:
    with client_for(model.transport(), **kwargs) as client:
        extraction = client.extract(
            endpoint("invoices"), TENANT, modified_since=from_cursor(since) if since else None
        )
        records = list(extraction)
    return records, extraction.stats


def land(landed: Landed, records: list[dict[str, Any]]) -> None:
    ids = [r[ID] for r in records]
    assert len(ids) == len(set(ids)), "a batch holds an id twice"
    for record in records:
        landed[record[ID]] = max(landed.get(record[ID], 0), record["Version"])


def assert_nothing_lost(at_start: dict[str, int], landed: Landed, model: ModelXero) -> None:
    alive = {i: v for i, v in at_start.items() if i in model.rows}
    lost = sorted(i for i in alive if i not in landed)
    assert not lost, f"never landed: {lost[:5]}"
    stale = sorted(i for i, v in alive.items() if landed[i] < v)
    assert not stale, f"landed older than at run start: {stale[:5]}"


def model_with(n: int, *, minutes: int = 1) -> ModelXero:
    model = ModelXero()
    for i in range(n):
        model.add(f"id-{i:05d}", BASE + timedelta(minutes=minutes * i))
    return model


def two_runs(model: ModelXero, **kwargs: Any) -> tuple[Landed, Any]:
    at_start = model.versions()
    landed: Landed = {}
    records, first = run(model, None, **kwargs)
    land(landed, records)
    model.stop_at, model.changes = None, {}
    more, _ = run(model, first.cursor_to, **kwargs)
    land(landed, more)
    assert_nothing_lost(at_start, landed, model)
    return landed, first


# -- 1. an edit during paging ------------------------------------------------------------------


def test_an_edit_on_a_served_page_loses_no_record() -> None:
    model = model_with(3000)
    # After page 1 is served a user edits its 11th invoice: it moves to the end and the
    # first invoice of page 2 slides into page 1, which was already read.
    model.changes = {1: [lambda m: m.edit("id-00010")]}
    _, first = two_runs(model)
    assert first.read_mode == "pages+gaps" and first.changed >= 1


def test_inserts_and_deletes_during_paging_lose_no_record() -> None:
    model = model_with(2500)
    model.changes = {
        1: [lambda m: m.delete("id-00003"), lambda m: m.insert("new-1")],
        2: [lambda m: m.delete("id-01500"), lambda m: m.edit("id-00001")],
    }
    two_runs(model, page_size=500)


def test_a_quiet_read_costs_no_extra_call_and_keeps_its_count() -> None:
    model = model_with(3000)
    records, stats = run(model, None)
    assert len(records) == 3000 and len(model.calls) == 3
    assert stats.read_mode == "pages" and stats.expected_records == 3000
    assert stats.verify_calls == 0 and stats.changed == 0


# -- 2. a stop between two records with one stamp ------------------------------------------------


@pytest.mark.parametrize("inclusive", [False, True])
def test_a_stop_between_equal_stamps_loses_neither(inclusive: bool) -> None:
    model = model_with(2000)
    model.inclusive = inclusive
    same = BASE + timedelta(minutes=999)
    for i in range(990, 1010):  # twenty invoices saved in one bulk update
        model.rows[f"id-{i:05d}"].stamp = same
    model.stop_at = 2  # the day limit ends the run after page 1
    landed, first = two_runs(model)
    assert first.stopped_early
    assert all(f"id-{i:05d}" in landed for i in range(990, 1010))


def test_journals_resume_by_offset_alone() -> None:
    journals = endpoint("journals")
    rows = make_records(journals, 250)
    for row in rows:  # one bulk posting: every journal has the same CreatedDateUTC
        row["CreatedDateUTC"] = dotnet(BASE)
    fake = FakeXero(endpoints=ENDPOINTS_BY_PATH, data={"Journals": rows})
    with client_for(fake.transport()) as client:
        extraction = client.extract(journals, TENANT, modified_since=BASE, start_offset=100)
        records = list(extraction)
    assert [r["JournalNumber"] for r in records] == list(range(101, 251))
    assert "If-Modified-Since" not in fake.calls[0].headers


# -- 3. Xero ignoring `page` ----------------------------------------------------------------------


@pytest.mark.parametrize("pagination", [True, False])
def test_every_record_on_every_page_stops_at_once(pagination: bool) -> None:
    model = model_with(2500)
    model.ignore_page, model.pagination = True, pagination
    with pytest.raises(MalformedResponse) as info:
        run(model, None)
    text = str(info.value)
    assert "Invoices" in text and "ignored `page`" in text and "order=None" in text
    assert len(model.calls) == 1


def test_page_one_on_every_page_stops_within_the_prefetch_window() -> None:
    model = model_with(20_000)
    served = model.serve

    def first_page_always(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        params["page"] = "1"
        url = request.url.copy_with(params=params)
        return served(httpx.Request(request.method, url, headers=request.headers))

    model.serve = first_page_always  # type: ignore[method-assign]
    with pytest.raises(MalformedResponse) as info:
        run(model, None)
    assert "the same records as page 1" in str(info.value) or "answered as page" in str(info.value)
    assert len(model.calls) <= 1 + 10 + 1  # page 1, the prefetch window, and no more


# -- 4. BankTransfers: deletions and changes land ----------------------------------------------


def test_bank_transfers_ask_for_deleted_and_keep_old_creation_stamps() -> None:
    seen: list[httpx.Request] = []
    transfer = {
        "BankTransferID": "bt-1",
        "Status": "DELETED",
        "CreatedDateUTC": dotnet(BASE - timedelta(days=300)),  # created long ago
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"DateTimeUTC": dotnet(BASE + timedelta(days=2)), "BankTransfers": [transfer]}
        return httpx.Response(200, content=orjson.dumps(body))

    with client_for(httpx.MockTransport(handler)) as client:
        extraction = client.extract(endpoint("bank_transfers"), TENANT, modified_since=BASE)
        records = list(extraction)
    assert seen[0].url.params["includeDeleted"] == "true"
    assert records == [transfer] and extraction.stats.already_landed == 0
    # Only a creation stamp: the cursor moves to Xero's clock (less the margin).
    assert from_cursor(extraction.stats.cursor_to or "") == BASE + timedelta(days=2, seconds=-5)


# -- 5. smaller findings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pagination",
    [
        {"page": 1, "pageSize": 1000, "pageCount": None, "itemCount": 3},
        {"page": 1, "pageSize": 1000, "itemCount": 3},
    ],
)
def test_an_incomplete_pagination_object_is_treated_as_absent(pagination: object) -> None:
    rows = [{ID: f"i{n}", "UpdatedDateUTC": dotnet(BASE + timedelta(minutes=n))} for n in range(3)]

    def handler(request: httpx.Request) -> httpx.Response:
        body = {"DateTimeUTC": dotnet(BASE + timedelta(days=1)), "Invoices": rows}
        body["pagination"] = pagination
        return httpx.Response(200, content=orjson.dumps(body))

    with client_for(httpx.MockTransport(handler)) as client:
        assert [r[ID] for r in client.extract(endpoint("invoices"), TENANT)] == ["i0", "i1", "i2"]


def test_read_timeout_is_120_s_by_default_and_configurable() -> None:
    with client_for(httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        assert client.http._http.timeout.read == 120.0
    with client_for(httpx.MockTransport(lambda r: httpx.Response(200)), timeout=45.0) as client:
        assert client.http._http.timeout.read == 45.0


def test_a_persistent_token_invalid_is_not_reported_as_a_missing_scope() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"Title": "Unauthorized", "Detail": "TokenInvalid"})

    with (
        client_for(httpx.MockTransport(handler)) as client,
        pytest.raises(XeroApiError) as info,
    ):
        list(client.extract(endpoint("invoices"), TENANT))
    assert not isinstance(info.value, NotEntitled)
    assert "token" in str(info.value).lower() and "authorize" in str(info.value)

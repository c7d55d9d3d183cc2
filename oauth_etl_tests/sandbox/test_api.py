"""Accounting API over real HTTP: auth checks, every paging style, filters, envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest

from oauth_etl_dev.sandbox import ENDPOINTS, SCOPES_BY_ENDPOINT, Paging
from oauth_etl_tests.sandbox.conftest import Xero, XeroFactory


@pytest.fixture
def session(xero: Xero) -> tuple[Xero, str, str]:
    tokens = xero.login()
    return xero, tokens["access_token"], xero.tenants(tokens["access_token"])[0]


def _ids(records: list[dict[str, Any]], endpoint: str) -> list[str]:
    return [str(r[ENDPOINTS[endpoint].id_field]) for r in records]


def test_envelope_and_headers(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    response = xero.api("Invoices", token, tenant, {"page": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["Status"] == "OK" and body["ProviderName"] == "oauth_etl sandbox"
    assert body["DateTimeUTC"].startswith("/Date(") and len(body["Id"]) == 36
    invoice = body["Invoices"][0]
    assert invoice["LineItems"] and invoice["Contact"]["ContactID"]
    assert invoice["UpdatedDateUTC"].startswith("/Date(") and invoice["UpdatedDateUTC"].endswith(
        "+0000)/"
    )
    for header in (
        "Xero-Correlation-Id",
        "X-DayLimit-Remaining",
        "X-MinLimit-Remaining",
        "X-AppMinLimit-Remaining",
    ):
        assert header in response.headers


def test_missing_or_foreign_tenant_is_403(session: tuple[Xero, str, str]) -> None:
    xero, token, _ = session
    for tenant in (None, "00000000-0000-0000-0000-000000000000"):
        response = xero.api("Contacts", token, tenant)
        assert response.status_code == 403
        body = response.json()
        assert (body["Title"], body["Status"], body["Detail"]) == (
            "Forbidden",
            403,
            "AuthenticationUnsuccessful",
        )
        assert "Xero-Correlation-Id" in response.headers


def test_client_credentials_token_sees_only_its_tenant(xero: Xero) -> None:
    body = xero.token({"grant_type": "client_credentials"}).json()
    user = xero.login()
    other = xero.tenants(user["access_token"])[1]
    assert xero.api("Contacts", body["access_token"], other).status_code == 403


def test_bad_bearer_is_401_invalid_token(xero: Xero) -> None:
    tenant = xero.tenants(xero.login()["access_token"])[0]
    response = xero.api("Contacts", "forged", tenant)
    assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("scope", "allowed", "denied"),
    [
        (
            "accounting.transactions.read",
            ["Invoices", "Payments", "ManualJournals"],
            ["Contacts", "Accounts", "Journals"],
        ),
        (
            "accounting.invoices.read",
            ["Invoices", "CreditNotes", "Quotes"],
            ["Payments", "BankTransactions"],
        ),
        ("accounting.payments.read", ["Payments", "Overpayments", "BatchPayments"], ["Invoices"]),
        (
            "accounting.banktransactions.read",
            ["BankTransactions", "BankTransfers"],
            ["ManualJournals"],
        ),
        ("accounting.manualjournals.read", ["ManualJournals"], ["Journals", "Invoices"]),
        ("accounting.contacts.read", ["Contacts", "ContactGroups"], ["Invoices"]),
        ("accounting.settings", ["Accounts", "TaxRates", "Organisation"], ["Budgets"]),
        ("accounting.journals.read", ["Journals"], ["ManualJournals"]),
    ],
)
def test_scopes_broad_and_granular(
    xero: Xero, scope: str, allowed: list[str], denied: list[str]
) -> None:
    token = xero.login(f"offline_access {scope}")["access_token"]
    tenant = xero.tenants(token)[0]
    for endpoint in allowed:
        assert xero.api(endpoint, token, tenant).status_code == 200, endpoint
    for endpoint in denied:
        response = xero.api(endpoint, token, tenant)
        assert response.status_code == 401, endpoint
        assert response.json()["Detail"] == "AuthorizationUnsuccessful"
        assert "WWW-Authenticate" not in response.headers


def test_scope_mapping_is_complete() -> None:
    assert set(SCOPES_BY_ENDPOINT) == set(ENDPOINTS)
    assert all(SCOPES_BY_ENDPOINT.values())


def test_denied_endpoint_models_journals_tier(xero_factory: XeroFactory) -> None:
    xero = xero_factory(denied_endpoints=frozenset({"Journals"}))
    token = xero.login()["access_token"]
    tenant = xero.tenants(token)[0]
    response = xero.api("Journals", token, tenant)
    assert response.status_code == 401 and response.json()["Detail"] == "AuthorizationUnsuccessful"


def _all_pages(
    xero: Xero, endpoint: str, token: str, tenant: str, size: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    paginations = []
    page = 1
    while True:
        params: dict[str, Any] = {"page": page}
        if size is not None:
            params["pageSize"] = size
        body = xero.api(endpoint, token, tenant, params).json()
        if "pagination" in body:
            paginations.append(body["pagination"])
        batch = body[ENDPOINTS[endpoint].record_key]
        if not batch:
            return records, paginations
        records.extend(batch)
        page += 1
        assert page < 100


@pytest.mark.parametrize(
    "endpoint", [e.name for e in ENDPOINTS.values() if e.paging is Paging.PAGE_SIZE]
)
def test_page_size_paging_returns_the_store_in_order(
    xero_factory: XeroFactory, endpoint: str
) -> None:
    xero = xero_factory(records=230)
    token = xero.login("offline_access accounting.transactions.read accounting.contacts.read")[
        "access_token"
    ]
    tenant = xero.tenants(token)[0]
    records, paginations = _all_pages(xero, endpoint, token, tenant, 100)
    store = xero.records(tenant, endpoint)
    assert records == store and len(set(_ids(records, endpoint))) == 230
    assert paginations[0] == {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 230}
    assert paginations[-1]["page"] == 4  # the empty page after the last keeps the totals


def test_last_full_page_and_clamped_page_size(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=2000, tenants=1)
    token = xero.login()["access_token"]
    tenant = xero.tenants(token)[0]
    records, paginations = _all_pages(xero, "Invoices", token, tenant, 1000)
    assert len(records) == 2000 and paginations[0]["pageCount"] == 2
    assert len(paginations) == 3  # page 3 is empty
    clamped = xero.api("Invoices", token, tenant, {"page": 1, "pageSize": 5000}).json()
    assert clamped["pagination"]["pageSize"] == 1000 and len(clamped["Invoices"]) == 1000
    default = xero.api("Contacts", token, tenant, {"page": 1}).json()
    assert default["pagination"]["pageSize"] == 100 and len(default["Contacts"]) == 100


def test_records_of_tenants_are_distinct(session: tuple[Xero, str, str]) -> None:
    xero, token, _ = session
    first, second = xero.tenants(token)
    ids = [set(_ids(xero.records(t, "Invoices"), "Invoices")) for t in (first, second)]
    assert not ids[0] & ids[1]


@pytest.mark.parametrize("endpoint", ["Quotes", "LinkedTransactions"])
def test_page_only_paging(xero_factory: XeroFactory, endpoint: str) -> None:
    xero = xero_factory(records=250)
    token = xero.login()["access_token"]
    tenant = xero.tenants(token)[0]
    first = xero.api(endpoint, token, tenant, {"page": 1, "pageSize": 1000}).json()
    assert "pagination" not in first and len(first[endpoint]) == 100  # pageSize is ignored
    records, _ = _all_pages(xero, endpoint, token, tenant, None)
    assert records == xero.records(tenant, endpoint)


def test_journals_offset_paging(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=250)
    token = xero.login()["access_token"]
    tenant = xero.tenants(token)[0]
    records: list[dict[str, Any]] = []
    offset = 0
    while True:
        batch = xero.api("Journals", token, tenant, {"offset": offset}).json()["Journals"]
        if not batch:
            break
        assert len(batch) <= 100
        records.extend(batch)
        offset = batch[-1]["JournalNumber"]
    # Journals come from the books (sandbox/ledger.py): one or more per posting document.
    assert len(records) > 250
    assert [j["JournalNumber"] for j in records] == list(range(1, len(records) + 1))
    assert records == xero.records(tenant, "Journals")
    middle = xero.api("Journals", token, tenant, {"offset": 120}).json()["Journals"]
    assert middle[0]["JournalNumber"] == 121


def test_single_call_endpoints(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    for endpoint in (e for e in ENDPOINTS.values() if e.paging is Paging.NONE):
        response = xero.api(endpoint.name, token, tenant)
        assert response.status_code == 200, endpoint.name
        records = response.json()[endpoint.record_key]
        assert records == xero.records(tenant, endpoint.name) and 1 <= len(records) <= 20


def test_without_page_all_invoices_without_line_items(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    body = xero.api("Invoices", token, tenant).json()
    assert len(body["Invoices"]) == 50 and "pagination" not in body
    assert all("LineItems" not in i for i in body["Invoices"])


def test_if_modified_since_filters(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    store = xero.records(tenant, "Contacts")
    cut = store[29]["UpdatedDateUTC"]
    ms = int(cut[6 : cut.index("+")])
    iso = (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
    newer = xero.api("Contacts", token, tenant, {"page": 1}, {"If-Modified-Since": iso}).json()
    assert newer["Contacts"] == store[30:] and newer["pagination"]["itemCount"] == 20
    http_date = format_datetime(datetime.fromtimestamp(ms // 1000, UTC), usegmt=True)
    by_http = xero.api(
        "Contacts", token, tenant, {"page": 1}, {"If-Modified-Since": http_date}
    ).json()
    assert by_http["Contacts"][0] == store[29]  # a second-resolution date includes record 29
    journals = xero.records(tenant, "Journals")
    stamp = journals[9]["CreatedDateUTC"]
    j_iso = datetime.fromtimestamp(int(stamp[6 : stamp.index("+")]) / 1000, UTC).isoformat()
    later = xero.api("Journals", token, tenant, {"offset": 0}, {"If-Modified-Since": j_iso}).json()
    assert later["Journals"][0]["JournalNumber"] == 11
    bad = xero.api("Contacts", token, tenant, {"page": 1}, {"If-Modified-Since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["Type"] == "ValidationException"


def test_where_and_order(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    store = xero.records(tenant, "Invoices")
    params = {"page": 1, "where": 'Status=="AUTHORISED"'}
    authorised = xero.api("Invoices", token, tenant, params).json()["Invoices"]
    assert authorised == [r for r in store if r["Status"] == "AUTHORISED"] and authorised
    both = 'Status=="PAID" AND Type=="ACCREC"'
    paid = xero.api("Invoices", token, tenant, {"page": 1, "where": both}).json()["Invoices"]
    assert paid == [r for r in store if r["Status"] == "PAID" and r["Type"] == "ACCREC"]
    contact = store[0]["Contact"]["ContactID"]
    by_guid = xero.api(
        "Invoices", token, tenant, {"page": 1, "where": f'Contact.ContactID==Guid("{contact}")'}
    )
    assert {r["InvoiceID"] for r in by_guid.json()["Invoices"]} == {
        r["InvoiceID"] for r in store if r["Contact"]["ContactID"] == contact
    }
    desc = xero.api("Invoices", token, tenant, {"page": 1, "order": "UpdatedDateUTC DESC"}).json()[
        "Invoices"
    ]
    assert desc == list(reversed(store))
    by_number = xero.api(
        "Invoices", token, tenant, {"page": 1, "order": "Total DESC, InvoiceNumber"}
    ).json()
    totals = [r["Total"] for r in by_number["Invoices"]]
    assert totals == sorted(totals, reverse=True)
    bad = xero.api("Invoices", token, tenant, {"where": "Status = AUTHORISED"})
    assert bad.status_code == 400 and bad.json()["ErrorNumber"] == 10


def test_single_record_and_unknown_paths(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    store = xero.records(tenant, "Invoices")
    one = xero.api(f"Invoices/{store[7]['InvoiceID']}", token, tenant).json()
    assert one["Invoices"] == [store[7]]
    for path in ("Invoices/00000000-0000-0000-0000-000000000000", "Widgets", "Invoices/x/History"):
        response = xero.api(path, token, tenant)
        assert response.status_code == 404, path
        assert "Xero-Correlation-Id" in response.headers
    assert xero.http.get("/no/such/thing").status_code == 404


def test_paths_are_case_insensitive(session: tuple[Xero, str, str]) -> None:
    xero, token, tenant = session
    assert xero.api("invoices", token, tenant, {"page": 1}).status_code == 200
    assert (
        xero.http.get("/Connections", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def test_same_seed_same_data(xero_factory: XeroFactory) -> None:
    a, b, c = xero_factory(seed=7), xero_factory(seed=7), xero_factory(seed=8)
    tenants = [x.tenants(x.login()["access_token"])[0] for x in (a, b, c)]
    assert tenants[0] == tenants[1] != tenants[2]
    assert a.records(tenants[0], "Payments") == b.records(tenants[1], "Payments")

"""The endpoint catalog covers Xero's paging styles (page+pageSize, page, offset, one call)
and agrees with the OpenAPI spec vendored in specs/xero-openapi/."""

from __future__ import annotations

import re

import pytest

from oauth_etl.tables.spec import VENDORED_SPEC
from oauth_etl.xero.catalog import CATALOG, ORDER_BY_UPDATED, Paging, endpoint

TABLE = {
    Paging.PAGE_SIZE: [
        "Invoices", "Contacts", "BankTransactions", "CreditNotes", "ManualJournals",
        "Payments", "Overpayments", "Prepayments", "PurchaseOrders",
    ],
    Paging.PAGE: ["Quotes", "LinkedTransactions"],
    Paging.OFFSET: ["Journals"],
    Paging.NONE: [
        "Accounts", "Items", "Users", "BankTransfers", "BatchPayments", "ExpenseClaims",
        "Receipts", "TaxRates", "Currencies", "TrackingCategories", "ContactGroups",
        "RepeatingInvoices", "Organisation", "BrandingThemes", "Budgets",
    ],
}  # fmt: skip
SNAPSHOT = {
    "TaxRates", "Currencies", "TrackingCategories", "ContactGroups", "RepeatingInvoices",
    "Organisation", "BrandingThemes", "Budgets", "LinkedTransactions",
}  # fmt: skip
SPEC = VENDORED_SPEC


def test_every_endpoint_of_the_table_exactly_once_with_its_paging() -> None:
    paths = [e.path for e in CATALOG]
    assert sorted(paths) == sorted(p for group in TABLE.values() for p in group)
    assert len(set(paths)) == len(paths)
    for paging, group in TABLE.items():
        for path in group:
            assert endpoint(path).paging is paging, path


def test_names_are_unique_snake_case_and_resolve() -> None:
    names = [e.name for e in CATALOG]
    assert len(set(names)) == len(names)
    for e in CATALOG:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", e.name), e.name
        assert endpoint(e.name) is e
        assert e.asset_key == ("xero", e.name)
        assert e.description
        assert e.broad_scopes
    assert endpoint("bank_transactions").path == "BankTransactions"
    assert endpoint("banktransactions").name == "bank_transactions"  # path, any case


def test_unknown_endpoint_error_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="invoices"):
        endpoint("invoicez")


def test_incremental_flags_and_cursors() -> None:
    for e in CATALOG:
        assert e.incremental is (e.path not in SNAPSHOT), e.path
        if e.incremental:
            assert e.cursor_field in ("UpdatedDateUTC", "CreatedDateUTC")
    assert endpoint("journals").cursor_field == "CreatedDateUTC"
    assert endpoint("journals").offset_field == "JournalNumber"
    assert endpoint("journals").advanced_tier
    assert endpoint("bank_transfers").cursor_field == "CreatedDateUTC"
    assert endpoint("organisation").record_key == "Organisations"
    assert endpoint("contacts").params["includeArchived"] == "true"


def test_rows_are_immutable_and_hashable() -> None:
    e = endpoint("contacts")
    with pytest.raises(TypeError):
        e.params["x"] = "y"  # type: ignore[index]
    assert len({hash(x) for x in CATALOG}) == len(CATALOG)


def test_paged_endpoints_ask_for_a_resumable_order() -> None:
    for e in CATALOG:
        if e.paging in (Paging.PAGE_SIZE, Paging.PAGE) and e.path != "LinkedTransactions":
            assert e.order == ORDER_BY_UPDATED, e.path
    assert endpoint("linked_transactions").order is None


def test_catalog_agrees_with_the_openapi_spec() -> None:
    import yaml

    # The C loader when PyYAML has it: the spec is 900 kB, the pure-Python loader takes seconds.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(SPEC.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    schemas = spec["components"]["schemas"]
    shared = spec["components"]["parameters"]
    for e in CATALOG:
        get = spec["paths"][f"/{e.path}"]["get"]
        names = set()
        for p in get.get("parameters", []):
            p = shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
            names.add(p["name"])
        assert ("If-Modified-Since" in names) is e.incremental, e.path
        assert ("pageSize" in names) is (e.paging is Paging.PAGE_SIZE), e.path
        assert ("page" in names) is (e.paging in (Paging.PAGE_SIZE, Paging.PAGE)), e.path
        assert ("offset" in names) is (e.paging is Paging.OFFSET), e.path
        if e.order:
            assert "order" in names, e.path
        assert set(e.params) <= names, (e.path, e.params)  # e.g. includeDeleted (v16)
        envelope = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        envelope_schema = schemas[envelope.rsplit("/", 1)[-1]]
        assert e.record_key in envelope_schema["properties"], e.path
        if e.paging is Paging.PAGE_SIZE:
            assert "pagination" in envelope_schema["properties"], e.path
        item = envelope_schema["properties"][e.record_key]["items"]["$ref"].rsplit("/", 1)[-1]
        props = schemas[item]["properties"]
        assert e.id_field in props, (e.path, e.id_field)
        if e.cursor_field:
            assert e.cursor_field in props, (e.path, e.cursor_field)
        if e.offset_field:
            assert e.offset_field in props
        spec_scopes = set(get["security"][0]["OAuth2"])
        assert set(e.broad_scopes) <= spec_scopes, (e.path, e.broad_scopes, spec_scopes)


def test_opt_in_endpoints_are_those_many_connections_cannot_read() -> None:
    assert {e.name for e in CATALOG if e.opt_in} == {"journals", "expense_claims", "receipts"}
    assert endpoint("journals").advanced_tier
    assert endpoint("journals").granular_scopes == ("accounting.journals.read",)
    for name in ("expense_claims", "receipts"):
        assert endpoint(name).granular_scopes == ("accounting.classicexpenses.read",)


def test_bank_transfers_ask_for_deleted_ones() -> None:
    # Spec v16 getBankTransfers: includeDeleted; records keep only CreatedDateUTC.
    transfers = endpoint("bank_transfers")
    assert transfers.params["includeDeleted"] == "true"
    assert transfers.cursor_field == "CreatedDateUTC"

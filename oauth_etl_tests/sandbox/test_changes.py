"""Data that changes while it is read: edit mode, one-off changes, page_ignored, soft deletes."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from oauth_etl_dev.sandbox import SandboxConfig
from oauth_etl_dev.sandbox import cli as sandbox_cli
from oauth_etl_dev.sandbox.cli import sandbox_command
from oauth_etl_tests.sandbox.conftest import Xero, XeroFactory

READ = "accounting.transactions.read accounting.settings.read"


def session(xero: Xero) -> tuple[str, str]:
    tokens = xero.login()
    token = tokens["access_token"]
    return token, xero.tenants(token)[0]


def ids(response: Any, key: str = "Invoices") -> list[str]:
    assert response.status_code == 200, response.text
    return [r[key[:-1] + "ID"] for r in response.json()[key]]


def test_served_edits_move_records_of_the_page_just_read(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=30, tenants=1)
    token, tenant = session(xero)
    plan = {"per_call": 1, "kinds": ["edit"], "endpoints": ["invoices"], "target": "served"}
    assert xero.admin("edits", plan)["plan"]["endpoints"] == ["Invoices"]
    params = {"page": 1, "pageSize": 10, "order": "UpdatedDateUTC ASC"}
    page1 = ids(xero.api("Invoices", token, tenant, params))
    again = ids(xero.api("Invoices", token, tenant, params))
    # One record of page 1 was edited after it was served: it moved to the end, and the
    # first record of page 2 slid into page 1.
    moved = [i for i in page1 if i not in again]
    assert len(moved) == 1 and again[:-1] == [i for i in page1 if i != moved[0]]
    assert xero.stats()["edits"]["applied"] == {"edit": 2}
    everything = ids(xero.api("Invoices", token, tenant, {**params, "pageSize": 100}))
    # The second read's edit moved one of its records to the very end.
    assert everything[-1] in again and everything[-2] == moved[0] and len(everything) == 30
    assert xero.http.delete("/_sandbox/edits").json()["plan"] is None


def test_fractional_rates_accumulate_and_inserts_grow_the_set(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=10, tenants=1)
    token, tenant = session(xero)
    xero.admin("edits", {"per_call": 0.5, "kinds": ["insert"], "endpoints": ["Contacts"]})
    for _ in range(4):
        xero.api("Contacts", token, tenant, {"page": 1})
    assert len(xero.records(tenant, "Contacts")) == 12
    xero.api("Invoices", token, tenant, {"page": 1})  # not a chosen endpoint
    assert len(xero.records(tenant, "Invoices")) == 10


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"per_call": -1}, "per_call"),
        ({"kinds": ["explode"]}, "kinds"),
        ({"endpoints": ["Widgets"]}, "endpoints"),
        ({"target": "future"}, "target"),
    ],
)
def test_bad_edit_plans_are_400(xero: Xero, plan: dict[str, Any], message: str) -> None:
    response = xero.http.post("/_sandbox/edits", json=plan)
    assert response.status_code == 400 and message in response.text


def test_archive_and_delete_keep_the_record_with_a_new_stamp(xero: Xero) -> None:
    _token, tenant = session(xero)
    first = xero.records(tenant, "Contacts")[0]
    changed = xero.admin("change", {"endpoint": "Contacts", "kind": "archive", "position": 0})
    assert changed["id"] == first["ContactID"]
    after = xero.records(tenant, "Contacts")[0]
    assert (
        after["ContactStatus"] == "ARCHIVED" and after["UpdatedDateUTC"] != first["UpdatedDateUTC"]
    )
    xero.admin("change", {"endpoint": "Invoices", "kind": "delete", "position": 3})
    assert xero.records(tenant, "Invoices")[3]["Status"] == "DELETED"
    refused = xero.http.post(
        "/_sandbox/change", json={"endpoint": "Journals", "kind": "edit", "position": 0}
    )
    assert refused.status_code == 400 and "immutable" in refused.text


def test_bank_transfer_soft_delete_shows_with_include_deleted_and_if_modified_since(
    xero: Xero,
) -> None:
    token, tenant = session(xero)
    before = xero.api("BankTransfers", token, tenant)
    assert len(before.json()["BankTransfers"]) == 15
    gone = xero.admin("change", {"endpoint": "BankTransfers", "kind": "delete", "position": 2})
    since = {"If-Modified-Since": "2100-01-01T00:00:00"}
    assert gone["id"] not in ids(xero.api("BankTransfers", token, tenant), "BankTransfers")
    deleted = xero.api("BankTransfers", token, tenant, {"includeDeleted": "true"})
    rows = {r["BankTransferID"]: r for r in deleted.json()["BankTransfers"]}
    assert rows[gone["id"]]["Status"] == "DELETED"
    # Records keep only CreatedDateUTC (spec v16), yet If-Modified-Since sees the delete.
    assert rows[gone["id"]]["CreatedDateUTC"] == before.json()["BankTransfers"][2]["CreatedDateUTC"]
    recent = xero.api(
        "BankTransfers",
        token,
        tenant,
        {"includeDeleted": "true"},
        {"If-Modified-Since": _iso(gone["stamp_ms"] - 1000)},
    )
    assert ids(recent, "BankTransfers") == [gone["id"]]
    assert ids(xero.api("BankTransfers", token, tenant, None, since), "BankTransfers") == []


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None).isoformat()


@pytest.mark.parametrize("pagination", [True, False])
def test_page_ignored_serves_every_record_on_every_page(xero: Xero, pagination: bool) -> None:
    token, tenant = session(xero)
    xero.admin(
        "faults",
        {
            "match": {"path": "/api.xro/2.0/ManualJournals"},
            "fault": "page_ignored",
            "pagination": pagination,
            "forever": True,
        },
    )
    for page in (1, 2, 3):
        body = xero.api("ManualJournals", token, tenant, {"page": page, "pageSize": 10}).json()
        assert len(body["ManualJournals"]) == 50
        assert ("pagination" in body) is pagination


def test_shared_stamps(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=12, tenants=1, shared_stamps=4)
    _token, tenant = session(xero)
    stamps = [r["UpdatedDateUTC"] for r in xero.records(tenant, "Invoices")]
    assert len(set(stamps)) == 3 and stamps[0] == stamps[3] != stamps[4]


def test_cli_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[SandboxConfig] = []
    monkeypatch.setattr(sandbox_cli, "serve_forever", lambda config, announce: seen.append(config))
    args = [
        "--client-id",
        "x",
        "--edits-per-call",
        "0.5",
        "--edit-kind",
        "edit",
        "--edit-kind",
        "delete",
        "--edit-endpoint",
        "invoices",
        "--edit-target",
        "served",
        "--shared-stamps",
        "3",
        "--page-ignored",
        "manualjournals",
        "--page-ignored-without-pagination",
    ]
    result = CliRunner().invoke(sandbox_command, args)
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.edits_per_call == 0.5 and config.edit_kinds == {"edit", "delete"}
    assert config.edit_endpoints == {"Invoices"} and config.edit_target == "served"
    assert config.shared_stamps == 3 and config.page_ignored == {"ManualJournals"}
    assert not config.page_ignored_pagination
    bad = CliRunner().invoke(sandbox_command, ["--client-id", "x", "--page-ignored", "Widgets"])
    assert bad.exit_code == 2 and "unknown endpoint" in bad.output


def test_cli_page_ignored_is_in_force_from_the_start(xero_factory: XeroFactory) -> None:
    xero = xero_factory(page_ignored=frozenset({"Invoices"}), page_ignored_pagination=False)
    token, tenant = session(xero)
    body = xero.api("Invoices", token, tenant, {"page": 2, "pageSize": 10}).json()
    assert len(body["Invoices"]) == 50 and "pagination" not in body

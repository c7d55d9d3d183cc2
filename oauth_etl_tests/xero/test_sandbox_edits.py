"""Issue #12 over real HTTP: the sandbox's data changes while the client reads it."""

from __future__ import annotations

from typing import Any

import pytest

from oauth_etl.xero.catalog import endpoint
from oauth_etl.xero.dates import from_cursor, parse_xero_datetime
from oauth_etl.xero.errors import PagingIgnored
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle
from oauth_etl_tests.xero.test_sandbox import client_for


def snapshot(handle: SandboxHandle, tenant: str, name: str) -> dict[str, Any]:
    """id -> the record as the sandbox holds it now."""
    response = handle.admin.get("/_sandbox/records", params={"tenant_id": tenant, "endpoint": name})
    response.raise_for_status()
    key = endpoint(name).id_field
    assert key is not None
    return {r[key]: r for r in response.json()}


def read(handle: SandboxHandle, name: str, cursor: str | None, **kwargs: Any) -> Any:
    e = endpoint(name)
    with client_for(handle, **kwargs) as client:
        tenant = client.connections()[0].tenant_id
        extraction = client.extract(
            e, tenant, modified_since=from_cursor(cursor) if cursor else None
        )
        records = list(extraction)
    key = e.id_field
    ids = [r[key] for r in records]
    assert len(ids) == len(set(ids)), "a batch holds an id twice"
    return tenant, records, extraction.stats


def newest(landed: dict[str, Any], records: list[dict[str, Any]], key: str, field: str) -> None:
    for record in records:
        stamp = parse_xero_datetime(record[field])
        if record[key] not in landed or stamp > landed[record[key]]:
            landed[record[key]] = stamp


@pytest.mark.parametrize(("name", "page_size"), [("invoices", 500), ("quotes", 1000)])
def test_edits_during_a_multi_page_read_lose_nothing(
    sandbox_factory: SandboxFactory, name: str, page_size: int
) -> None:
    path = endpoint(name).path
    handle = sandbox_factory(
        *("--tenants", "1", "--records", "2000", "--no-limits", "--seed", "12"),
        *("--edits-per-call", "3", "--edit-target", "served", "--edit-endpoint", path),
    )
    with client_for(handle) as client:
        tenant = client.connections()[0].tenant_id
    at_start = snapshot(handle, tenant, path)
    key, field = endpoint(name).id_field or "", "UpdatedDateUTC"
    landed: dict[str, Any] = {}
    _, records, first = read(handle, name, None, page_size=page_size)
    newest(landed, records, key, field)
    assert first.complete and first.changed > 0  # the users really were busy
    _, more, _second = read(handle, name, first.cursor_to, page_size=page_size)
    newest(landed, more, key, field)
    lost = [i for i in at_start if i not in landed]
    assert not lost, f"{len(lost)} never landed"
    stale = [i for i, r in at_start.items() if landed[i] < parse_xero_datetime(r[field])]
    assert not stale


@pytest.mark.parametrize("without_pagination", [False, True])
def test_page_ignored_stops_with_the_endpoint_and_the_remedy(
    sandbox_factory: SandboxFactory, without_pagination: bool
) -> None:
    flags = ["--page-ignored-without-pagination"] if without_pagination else []
    handle = sandbox_factory(
        *("--tenants", "1", "--records", "2500", "--no-limits"),
        *("--page-ignored", "ManualJournals", *flags),
    )
    with pytest.raises(PagingIgnored) as info:
        read(handle, "manual_journals", None)
    assert "ManualJournals" in str(info.value) and "order=None" in str(info.value)
    calls = handle.stats()["api_calls"]
    assert isinstance(calls, dict)
    assert sum(c.get("ManualJournals", 0) for c in calls.values()) <= 1 + 10


def test_day_limited_runs_in_equal_stamps_lose_nothing_and_progress(
    sandbox_factory: SandboxFactory,
) -> None:
    # 1,500 contacts in runs of 150 sharing one stamp; a day budget of one call.
    handle = sandbox_factory(
        *("--tenants", "1", "--records", "1500", "--shared-stamps", "150", "--day-limit", "1")
    )
    tenant, records, stats = read(handle, "contacts", None, page_size=200)
    # Page 1 lands, then the day is over, inside a run of equal stamps.
    assert stats.stopped_early and len(records) == 200
    at_start = snapshot(handle, tenant, "Contacts")
    landed = {r["ContactID"] for r in records}
    for _day in range(15):  # each day's one call proves at least a run of 150 more
        if stats.complete:
            break
        handle.advance_clock(86_400)  # the next day: a fresh budget
        _, more, stats = read(handle, "contacts", stats.cursor_to, page_size=200)
        landed |= {r["ContactID"] for r in more}
    assert stats.complete
    assert set(at_start) <= landed


def test_a_soft_deleted_bank_transfer_lands_on_the_next_run(
    sandbox_factory: SandboxFactory,
) -> None:
    handle = sandbox_factory("--tenants", "1", "--records", "10", "--no-limits")
    _tenant, records, first = read(handle, "bank_transfers", None)
    assert len(records) == 15 and all(r["Status"] == "AUTHORISED" for r in records)
    gone = handle.post(
        "/_sandbox/change", {"endpoint": "BankTransfers", "kind": "delete", "position": 0}
    ).json()
    _, more, _ = read(handle, "bank_transfers", first.cursor_to)
    assert [(r["BankTransferID"], r["Status"]) for r in more] == [(gone["id"], "DELETED")]

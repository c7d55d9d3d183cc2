"""Merging landed batches into Delta tables on Azurite (through the startFrom relay)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.storage.errors import ChecksumMismatch
from oauth_etl.tables import merge, writes
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import table_spec
from oauth_etl.tables.upkeep import read_as_of
from oauth_etl_tests.tables.conftest import BASE_MS, invoices, land, net_date

INVOICES = table_spec("invoices")
LINES = "invoice_line_items"


def version(store: TableStore, name: str) -> int:
    opened = writes.open_table(store, name)
    assert opened is not None
    return opened.version()


def test_first_load_one_typed_row_per_id_and_their_line_items(
    container: ContainerClient, store: TableStore
) -> None:
    records = invoices("t1", 40)
    records += invoices("t1", 5, stamp_ms=BASE_MS - 10_000)  # older copies of 0..4 in the batch
    manifest = land(container, "invoices", "t1", records, "20260101T000000.000Z-a")

    result = merge.merge_batches(
        store, INVOICES, container, [manifest], chunk_records=16, merge_rows=20
    )

    assert (result.records_read, result.winners, result.unchanged) == (45, 40, 5)
    table = read_as_of(store, "invoices")
    assert table.num_rows == 40
    assert table.schema.field("Date").type == pa.date32()
    assert table.schema.field("UpdatedDateUTC").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("Total").type == pa.decimal128(28, 10)
    assert pa.types.is_struct(table.schema.field("Contact").type)
    assert "LineItems" not in table.schema.names  # in its own table
    first = next(r for r in table.to_pylist() if r["InvoiceID"] == records[0]["InvoiceID"])
    assert first["UpdatedDateUTC"] == dt.datetime.fromtimestamp(BASE_MS / 1000, dt.UTC)
    assert first["Total"] == Decimal(repr(records[0]["Total"]))
    assert first["_batch_id"] == "20260101T000000.000Z-a"
    lines = read_as_of(store, LINES)
    assert lines.num_rows == sum(len(r["LineItems"]) for r in records[:40])
    mine = [r for r in lines.to_pylist() if r["InvoiceID"] == records[0]["InvoiceID"]]
    assert sorted(r["_line"] for r in mine) == list(range(len(records[0]["LineItems"])))
    assert {r["LineItemID"] for r in mine} == {li["LineItemID"] for li in records[0]["LineItems"]}


def test_incremental_merge_updates_changed_inserts_new_ignores_stale(
    container: ContainerClient, store: TableStore
) -> None:
    first = land(container, "invoices", "t1", invoices("t1", 20), "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [first])
    changed = [
        dict(r, Reference="changed", UpdatedDateUTC=net_date(BASE_MS + 86_400_000))
        for r in invoices("t1", 3)
    ]
    stale = [
        dict(r, Reference="stale", UpdatedDateUTC=net_date(BASE_MS - 1))
        for r in invoices("t1", 6)[3:]
    ]
    new = invoices("t1", 4, start=20)
    second = land(container, "invoices", "t1", changed + stale + new, "20260102T000000.000Z-b")

    result = merge.merge_batches(store, INVOICES, container, [second])

    assert (result.winners, result.unchanged) == (7, 3)
    assert (result.parent.inserted, result.parent.updated) == (4, 3)
    table = read_as_of(store, "invoices").to_pylist()
    assert len(table) == 24
    references = {r["InvoiceID"]: r["Reference"] for r in table}
    assert all(references[r["InvoiceID"]] == "changed" for r in changed)
    assert not any(references[r["InvoiceID"]] == "stale" for r in stale)


def test_replaying_a_batch_adds_no_version_and_changes_nothing(
    container: ContainerClient, store: TableStore
) -> None:
    manifest = land(container, "invoices", "t1", invoices("t1", 30), "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [manifest], chunk_records=10)
    before = (version(store, "invoices"), version(store, LINES))
    snapshot = read_as_of(store, "invoices").sort_by("InvoiceID")

    again = merge.merge_batches(store, INVOICES, container, [manifest, manifest])

    assert (again.winners, again.unchanged) == (0, 60)
    assert (version(store, "invoices"), version(store, LINES)) == before
    assert read_as_of(store, "invoices").sort_by("InvoiceID").equals(snapshot)


def test_schema_evolution_and_unparsed_values_are_kept_and_counted(
    container: ContainerClient, store: TableStore
) -> None:
    base = land(container, "invoices", "t1", invoices("t1", 5), "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [base])
    odd = invoices("t1", 2, start=5)
    odd[0]["NewXeroField"] = {"Added": "later"}  # a field the spec doesn't name
    odd[0]["DueDate"] = "next Tuesday"  # a date that doesn't parse
    odd[1]["Contact"]["BrandNewKey"] = 7  # inside a struct: kept raw, not dropped
    odd[1]["Total"] = "lots"
    later = land(container, "invoices", "t1", odd, "20260102T000000.000Z-b")

    result = merge.merge_batches(store, INVOICES, container, [later])

    assert "NewXeroField" in result.parent.conversion.new_columns
    assert result.parent.conversion.unparsed_values == 3
    assert result.parent.conversion.rows_with_unparsed == 2
    table = read_as_of(store, "invoices")
    assert table.schema.field("NewXeroField").type == pa.string()
    by_id = {r["InvoiceID"]: r for r in table.to_pylist()}
    assert orjson.loads(by_id[odd[0]["InvoiceID"]]["NewXeroField"]) == {"Added": "later"}
    assert by_id[odd[0]["InvoiceID"]]["DueDate"] is None
    assert orjson.loads(by_id[odd[0]["InvoiceID"]]["_unparsed"]) == {"DueDate": '"next Tuesday"'}
    assert orjson.loads(by_id[odd[1]["InvoiceID"]]["_unparsed"]) == {
        "Contact.BrandNewKey": "7",
        "Total": '"lots"',
    }
    old = invoices("t1", 1)[0]["InvoiceID"]
    assert by_id[old]["NewXeroField"] is None and by_id[old]["_unparsed"] is None


def test_a_voided_invoice_keeps_its_row_with_xeros_status(
    container: ContainerClient, store: TableStore
) -> None:
    record = invoices("t1", 1)[0]
    first = land(
        container, "invoices", "t1", [dict(record, Status="AUTHORISED")], "20260101T000000.000Z-a"
    )
    voided = dict(record, Status="VOIDED", UpdatedDateUTC=net_date(BASE_MS + 5_000))
    second = land(container, "invoices", "t1", [voided], "20260102T000000.000Z-b")

    merge.merge_batches(store, INVOICES, container, [first, second])

    table = read_as_of(store, "invoices").to_pylist()
    assert [(r["InvoiceID"], r["Status"]) for r in table] == [(record["InvoiceID"], "VOIDED")]


def test_line_items_are_replaced_as_a_whole_when_the_parent_changes(
    container: ContainerClient, store: TableStore
) -> None:
    records = invoices("t1", 4)
    for record in records:
        record["LineItems"] = [dict(record["LineItems"][0], LineItemID=f"{n}") for n in range(3)]
    first = land(container, "invoices", "t1", records, "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [first])
    shrunk = dict(records[0], UpdatedDateUTC=net_date(BASE_MS + 10_000))
    shrunk["LineItems"] = [dict(records[0]["LineItems"][2], Description="kept, moved up")]
    grown = dict(records[1], UpdatedDateUTC=net_date(BASE_MS + 10_000))
    grown["LineItems"] = [dict(records[1]["LineItems"][0], LineItemID=f"new{n}") for n in range(5)]
    emptied = dict(records[2], UpdatedDateUTC=net_date(BASE_MS + 10_000), LineItems=[])
    second = land(container, "invoices", "t1", [shrunk, grown, emptied], "20260102T000000.000Z-b")

    result = merge.merge_batches(store, INVOICES, container, [second])

    lines = read_as_of(store, LINES).to_pylist()
    per_parent: dict[str, list[tuple[int, str]]] = {}
    for line in lines:
        per_parent.setdefault(line["InvoiceID"], []).append((line["_line"], line["LineItemID"]))
    assert sorted(per_parent[shrunk["InvoiceID"]]) == [(0, "2")]
    assert sorted(per_parent[grown["InvoiceID"]]) == [(n, f"new{n}") for n in range(5)]
    assert emptied["InvoiceID"] not in per_parent
    assert sorted(per_parent[records[3]["InvoiceID"]]) == [(n, f"{n}") for n in range(3)]
    counts = result.children[LINES]
    assert (counts.inserted, counts.updated, counts.deleted, counts.commits) == (2, 4, 5, 1)


def test_two_tenants_keep_their_own_rows_in_their_own_partitions(
    container: ContainerClient, store: TableStore
) -> None:
    shared = invoices("t1", 3)
    mine = land(container, "invoices", "t1", shared, "20260101T000000.000Z-a")
    theirs_records = [dict(r, Reference="tenant two") for r in shared] + invoices("t2", 2, start=3)
    theirs = land(container, "invoices", "t2", theirs_records, "20260101T000000.000Z-b")

    merge.merge_batches(store, INVOICES, container, [mine])
    merge.merge_batches(store, INVOICES, container, [theirs])
    with pytest.raises(ValueError, match="one tenant"):
        merge.merge_batches(store, INVOICES, container, [mine, theirs])

    assert read_as_of(store, "invoices", tenant_id="t1").num_rows == 3
    two = read_as_of(store, "invoices", tenant_id="t2").to_pylist()
    assert len(two) == 5 and {r["tenant_id"] for r in two} == {"t2"}
    assert {r["Reference"] for r in read_as_of(store, "invoices", tenant_id="t1").to_pylist()} != {
        "tenant two"
    }
    names = [b.name for b in container.list_blobs(name_starts_with="raw/tables/xero/invoices/")]
    assert any("/tenant_id=t1/" in n for n in names) and any("/tenant_id=t2/" in n for n in names)


class _Boom(RuntimeError):
    pass


def _failing_stream(data: pa.Table) -> pa.RecordBatchReader:
    """The merge source breaks after its first batch: delta-rs has begun writing files."""

    def batches() -> Any:
        yield from data.to_batches(max_chunksize=1)[:1]
        raise _Boom("storage went away mid-merge")

    return pa.RecordBatchReader.from_batches(data.schema, batches())


def test_a_failed_merge_leaves_the_previous_version_readable_and_a_rerun_converges(
    container: ContainerClient, store: TableStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = land(container, "invoices", "t1", invoices("t1", 10), "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [first])
    before = version(store, "invoices")
    snapshot = read_as_of(store, "invoices").sort_by("InvoiceID")
    changed = [
        dict(r, Reference="new", UpdatedDateUTC=net_date(BASE_MS + 60_000), LineItems=[])
        for r in invoices("t1", 10)
    ]
    second = land(container, "invoices", "t1", changed, "20260102T000000.000Z-b")
    aligned = writes.aligned
    monkeypatch.setattr(
        writes,
        "aligned",
        lambda table, data: (
            _failing_stream(aligned(table, data))
            if "Reference" in data.schema.names
            else aligned(table, data)
        ),
    )

    with pytest.raises(Exception, match="storage went away"):
        merge.merge_batches(store, INVOICES, container, [second])

    assert version(store, "invoices") == before
    assert read_as_of(store, "invoices").sort_by("InvoiceID").equals(snapshot)
    monkeypatch.undo()
    result = merge.merge_batches(store, INVOICES, container, [second])
    assert result.parent.updated == 10
    assert {r["Reference"] for r in read_as_of(store, "invoices").to_pylist()} == {"new"}
    assert read_as_of(store, LINES).num_rows == 0


def test_a_batch_that_breaks_while_read_commits_nothing_of_its_chunk(
    container: ContainerClient, store: TableStore
) -> None:
    first = land(container, "invoices", "t1", invoices("t1", 5), "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [first])
    before = version(store, "invoices")
    bad = land(container, "invoices", "t1", invoices("t1", 5, start=5), "20260102T000000.000Z-b")
    part = f"{bad.location}/{bad.parts[0].name}"
    container.upload_blob(part, b"not gzip", overwrite=True)

    with pytest.raises(ChecksumMismatch):
        merge.merge_batches(store, INVOICES, container, [bad])

    assert version(store, "invoices") == before
    assert read_as_of(store, "invoices").num_rows == 5


def test_bank_transfer_soft_delete_is_reflected_by_the_newer_batch(
    container: ContainerClient, store: TableStore
) -> None:
    transfer = {
        "BankTransferID": "bt-1",
        "Amount": 12.5,
        "Date": net_date(BASE_MS),
        "CreatedDateUTC": net_date(BASE_MS),
        "Status": "AUTHORISED",
    }
    a = land(container, "bank_transfers", "t1", [transfer], "20260101T000000.000Z-a")
    b = land(
        container,
        "bank_transfers",
        "t1",
        [dict(transfer, Status="DELETED")],
        "20260102T000000.000Z-b",
    )
    spec = table_spec("bank_transfers")

    merge.merge_batches(store, spec, container, [a, b])
    replay = merge.merge_batches(store, spec, container, [a])  # an older batch again

    assert replay.winners == 0
    table = read_as_of(store, "bank_transfers").to_pylist()
    assert [(r["BankTransferID"], r["Status"], r["Amount"]) for r in table] == [
        ("bt-1", "DELETED", Decimal("12.5"))
    ]


def test_journals_are_append_only_by_journal_id(
    container: ContainerClient, store: TableStore
) -> None:
    def journal(number: int, reference: str) -> dict[str, Any]:
        return {
            "JournalID": f"j{number}",
            "JournalNumber": number,
            "JournalDate": "/Date(1419937200000+1300)/",
            "CreatedDateUTC": net_date(BASE_MS + number),
            "Reference": reference,
            "JournalLines": [
                {"JournalLineID": f"j{number}-{n}", "NetAmount": 1.5} for n in range(2)
            ],
        }

    spec = table_spec("journals")
    a = land(
        container,
        "journals",
        "t1",
        [journal(1, "first"), journal(2, "first")],
        "20260101T000000.000Z-a",
    )
    b = land(
        container,
        "journals",
        "t1",
        [journal(2, "rewritten"), journal(3, "first")],
        "20260102T000000.000Z-b",
    )

    merge.merge_batches(store, spec, container, [a])
    result = merge.merge_batches(store, spec, container, [b])

    assert (result.winners, result.parent.inserted, result.parent.updated) == (1, 1, 0)
    table = read_as_of(store, "journals").to_pylist()
    assert sorted((r["JournalID"], r["Reference"]) for r in table) == [
        ("j1", "first"),
        ("j2", "first"),
        ("j3", "first"),
    ]
    assert {r["JournalDate"] for r in table} == {dt.date(2014, 12, 31)}  # the +13:00 date
    assert read_as_of(store, "journal_lines").num_rows == 6

"""The asset check's comparison: distinct ids in the table against the landed batches."""

from __future__ import annotations

from azure.storage.blob import ContainerClient
from deltalake import write_deltalake

from oauth_etl.tables import checks, merge, writes
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import table_spec
from oauth_etl.tables.upkeep import read_as_of
from oauth_etl_tests.tables.conftest import BASE_MS, invoices, land, net_date

INVOICES = table_spec("invoices")


def test_ids_match_after_merging_overlapping_batches_and_a_gap_or_a_repeat_fails(
    container: ContainerClient, store: TableStore
) -> None:
    first = land(container, "invoices", "t1", invoices("t1", 8), "20260101T000000.000Z-a")
    changed = [dict(r, UpdatedDateUTC=net_date(BASE_MS + 1000)) for r in invoices("t1", 3)]
    second = land(
        container, "invoices", "t1", changed + invoices("t1", 2, start=8), "20260102T000000.000Z-b"
    )
    merge.merge_batches(store, INVOICES, container, [first, second])
    merge.merge_batches(
        store,
        INVOICES,
        container,
        [land(container, "invoices", "t2", invoices("t2", 4), "20260101T000000.000Z-c")],
    )

    ok = checks.check_ids(store, INVOICES, container, "t1", [first, second])
    assert ok.passed and (ok.table_rows, ok.table_ids, ok.landed_ids) == (10, 10, 10)
    assert "10 distinct id(s) landed" in ok.describe()

    unmerged = land(
        container, "invoices", "t1", invoices("t1", 1, start=10), "20260103T000000.000Z-d"
    )
    gap = checks.check_ids(store, INVOICES, container, "t1", [first, second, unmerged])
    assert not gap.passed and gap.landed_ids == 11

    dt = writes.open_table(store, "invoices")
    assert dt is not None
    repeat = read_as_of(store, "invoices", tenant_id="t1").slice(0, 1)
    write_deltalake(dt, repeat, mode="append")
    doubled = checks.check_ids(store, INVOICES, container, "t1", [first, second])
    assert not doubled.passed and (doubled.table_rows, doubled.table_ids) == (11, 10)

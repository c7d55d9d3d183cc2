"""Snapshot endpoints: a record the next complete snapshot lacks is deleted from the table."""

from __future__ import annotations

from typing import Any

from azure.storage.blob import ContainerClient

from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.storage.writer import write_batch
from oauth_etl.tables import checks, merge
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import table_spec
from oauth_etl.tables.upkeep import read_as_of, table
from oauth_etl_tests.tables.conftest import PREFIX, invoices, land

TAX_RATES = table_spec("tax_rates")


def rate(code: str, name: str = "") -> dict[str, Any]:
    # Shape of TaxRates[] in xero_accounting.yaml (getTaxRates): TaxType is the key.
    return {
        "TaxType": code,
        "Name": name or f"Rate {code}",
        "Status": "ACTIVE",
        "TaxComponents": [],
    }


def land_snapshot(
    container: ContainerClient, records: list[dict[str, Any]], batch_id: str, complete: bool = True
) -> Any:
    batch = LandingBatch("xero", "tax_rates", "t1", records, stats=BatchStats(complete=complete))
    return write_batch(container, batch, prefix=PREFIX, run_id="test", batch_id=batch_id)


def codes(store: TableStore, tenant_id: str = "t1") -> set[str]:
    rows = read_as_of(store, "tax_rates", tenant_id=tenant_id, columns=["TaxType"])
    return set(rows.column("TaxType").to_pylist())


def test_a_record_missing_from_the_next_complete_snapshot_is_deleted_after_the_merge(
    container: ContainerClient, store: TableStore
) -> None:
    first = land_snapshot(container, [rate("A"), rate("B"), rate("C")], "20260101T000000.000Z-a")
    merge.merge_batches(store, TAX_RATES, container, [first])
    other = LandingBatch("xero", "tax_rates", "t2", [rate("B")])
    merge.merge_batches(
        store,
        TAX_RATES,
        container,
        [write_batch(container, other, prefix=PREFIX, run_id="test", batch_id="20260101T0-t2")],
    )
    before = table(store, "tax_rates").version()
    second = land_snapshot(container, [rate("A", "renamed"), rate("C")], "20260102T000000.000Z-b")

    result = merge.merge_batches(store, TAX_RATES, container, [second])

    assert codes(store) == {"A", "C"} and codes(store, "t2") == {"B"}  # t2 untouched
    assert result.parent.deleted == 1
    dt = table(store, "tax_rates")
    assert dt.version() == before + 2  # the merge, then the deletion in its own commit
    assert dt.history(1)[0]["operation"] == "DELETE"
    assert "B" in set(read_as_of(store, "tax_rates", before + 1).column("TaxType").to_pylist())
    found = checks.check_ids(store, TAX_RATES, container, "t1", [first, second])
    assert found.passed and found.landed_ids == 2

    replay = merge.merge_batches(store, TAX_RATES, container, [second])
    assert replay.parent.deleted == 0 and table(store, "tax_rates").version() == before + 2


def test_an_incomplete_snapshot_or_an_incremental_batch_never_deletes(
    container: ContainerClient, store: TableStore
) -> None:
    first = land_snapshot(container, [rate("A"), rate("B")], "20260101T000000.000Z-a")
    merge.merge_batches(store, TAX_RATES, container, [first])
    partial = land_snapshot(container, [rate("A")], "20260102T000000.000Z-b", complete=False)

    result = merge.merge_batches(store, TAX_RATES, container, [partial])

    assert result.parent.deleted == 0 and codes(store) == {"A", "B"}
    assert checks.check_ids(store, TAX_RATES, container, "t1", [first, partial]).passed

    whole = land(container, "invoices", "t1", invoices("t1", 5), "20260101T000000.000Z-c")
    merge.merge_batches(store, table_spec("invoices"), container, [whole])
    some = land(container, "invoices", "t1", invoices("t1", 2), "20260102T000000.000Z-d")
    again = merge.merge_batches(store, table_spec("invoices"), container, [some])
    assert again.parent.deleted == 0
    assert read_as_of(store, "invoices", tenant_id="t1").num_rows == 5

"""The bucket layout: a merge reads and rewrites only the files of the buckets it touches."""

from __future__ import annotations

import pyarrow as pa
import pytest
from azure.storage.blob import ContainerClient
from deltalake import write_deltalake

from oauth_etl.tables import merge, writes
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import BUCKET, TENANT, table_spec
from oauth_etl.tables.spool import bucket_of
from oauth_etl.tables.upkeep import read_as_of, table
from oauth_etl_tests.tables.conftest import BASE_MS, invoices, land, net_date

INVOICES = table_spec("invoices")


def test_rows_are_partitioned_by_tenant_and_a_stable_bucket_of_their_id(
    container: ContainerClient, store: TableStore
) -> None:
    records = invoices("t1", 30)
    first = land(container, "invoices", "t1", records, "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [first], buckets=4)

    assert table(store, "invoices").metadata().partition_columns == [TENANT, BUCKET]
    rows = read_as_of(store, "invoices", columns=["InvoiceID", BUCKET]).to_pylist()
    assert {r["InvoiceID"]: r[BUCKET] for r in rows} == {
        r["InvoiceID"]: bucket_of(r["InvoiceID"], 4) for r in records
    }
    lines = read_as_of(store, "invoice_line_items", columns=["InvoiceID", BUCKET]).to_pylist()
    assert lines and all(r[BUCKET] == bucket_of(r["InvoiceID"], 4) for r in lines)
    # An existing table keeps its own count, whatever a later merge asks for.
    again = land(container, "invoices", "t1", invoices("t1", 5, start=30), "20260102T000000.000Z-b")
    merge.merge_batches(store, INVOICES, container, [again], buckets=16)
    ids = read_as_of(store, "invoices", columns=["InvoiceID", BUCKET]).to_pylist()
    assert len(ids) == 35 and all(r[BUCKET] == bucket_of(r["InvoiceID"], 4) for r in ids)


def test_a_change_to_one_invoice_scans_only_its_buckets_files(
    container: ContainerClient, store: TableStore
) -> None:
    records = invoices("t1", 40)
    first = land(container, "invoices", "t1", records, "20260101T000000.000Z-a")
    merge.merge_batches(store, INVOICES, container, [first], buckets=8)
    files = len(table(store, "invoices").file_uris())
    changed = dict(records[0], Reference="changed", UpdatedDateUTC=net_date(BASE_MS + 60_000))
    second = land(container, "invoices", "t1", [changed], "20260102T000000.000Z-b")

    result = merge.merge_batches(store, INVOICES, container, [second])

    assert result.parent.updated == 1
    metrics = table(store, "invoices").history(1)[0]["operationMetrics"]
    assert files == 8 and metrics["num_target_files_scanned"] == 1
    assert metrics["num_target_files_skipped_during_scan"] == files - 1


def test_a_table_made_before_buckets_is_refused_with_what_to_do(
    container: ContainerClient, store: TableStore
) -> None:
    old = pa.table({TENANT: ["t1"], "InvoiceID": ["x"]})
    write_deltalake(
        store.uri("invoices"),
        old,
        partition_by=[TENANT],
        mode="append",
        storage_options=store.storage_options(),
    )
    batch = land(container, "invoices", "t1", invoices("t1", 2), "20260101T000000.000Z-a")

    with pytest.raises(writes.LayoutError, match="delete its folder and materialize it again"):
        merge.merge_batches(store, INVOICES, container, [batch])

"""Compaction, vacuum, reading as of a version or a moment, and `table show`."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.tables import merge, show, upkeep
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import table_spec
from oauth_etl_tests.tables.conftest import BASE_MS, invoices, land, net_date

INVOICES = table_spec("invoices")


def _data_files(container: ContainerClient, name: str) -> set[str]:
    prefix = f"raw/tables/xero/{name}/"
    return {
        b.name
        for b in container.list_blobs(name_starts_with=prefix)
        if b.name.endswith(".parquet") and "/_delta_log/" not in b.name
    }


def _load_in_versions(container: ContainerClient, store: TableStore) -> list[dt.datetime]:
    """Three merges: 12 invoices, then 4 changed twice. Returns a moment after each.

    Time travel by moment goes by the commit blobs' Last-Modified, which Azure keeps in
    whole seconds: each moment is the whole second after its commit finished, and the next
    commit starts a second later, so every version is strictly between two moments."""
    moments: list[dt.datetime] = []

    def mark_and_wait() -> None:
        moment = int(time.time()) + 1
        moments.append(dt.datetime.fromtimestamp(moment, dt.UTC))
        time.sleep(moment + 1.05 - time.time())

    first = land(container, "invoices", "t1", invoices("t1", 12), "20260101T000000.000Z-a")
    # Two buckets: several invoices per partition, so compaction has files to join.
    merge.merge_batches(
        store, INVOICES, container, [first], chunk_records=4, merge_rows=4, buckets=2
    )
    mark_and_wait()
    for n, reference in enumerate(("second", "third"), start=1):
        changed = [
            dict(r, Reference=reference, UpdatedDateUTC=net_date(BASE_MS + n * 60_000))
            for r in invoices("t1", 4)
        ]
        batch = land(container, "invoices", "t1", changed, f"2026010{n + 1}T000000.000Z-b")
        merge.merge_batches(store, INVOICES, container, [batch])
        if n == 1:
            mark_and_wait()
    return moments


def test_reading_as_of_a_version_or_a_moment(container: ContainerClient, store: TableStore) -> None:
    moments = _load_in_versions(container, store)
    latest = upkeep.table(store, "invoices").version()

    def references(when: dt.datetime | int | None) -> set[str]:
        table = upkeep.read_as_of(store, "invoices", when, columns=["Reference"])
        return set(table.column("Reference").to_pylist())

    assert "third" in references(None) and "second" not in references(None)
    assert "second" in references(latest - 1)
    assert not {"second", "third"} & references(moments[0])
    assert "second" in references(moments[1].replace(tzinfo=None))  # naive means UTC
    with pytest.raises(upkeep.TableMissing):
        upkeep.read_as_of(store, "no_such_table")


def test_upkeep_compacts_small_files_and_vacuum_keeps_time_travel_within_retention(
    container: ContainerClient, store: TableStore
) -> None:
    _load_in_versions(container, store)
    rows = upkeep.read_as_of(store, "invoices").sort_by("InvoiceID")
    before = _data_files(container, "invoices")
    version_before = upkeep.table(store, "invoices").version()

    kept = upkeep.upkeep(store, "invoices", retention_days=7)

    # One file per partition (tenant_id, _bucket) is left: each had several before.
    partitions = {name.rsplit("/", 1)[0] for name in before}
    assert kept.files_added == len(partitions) < kept.files_removed
    assert kept.vacuumed == 0  # everything removed is younger than 7 days
    assert upkeep.read_as_of(store, "invoices").sort_by("InvoiceID").equals(rows)
    assert upkeep.read_as_of(store, "invoices", version_before).num_rows == 12  # time travel
    removed = upkeep.vacuum(store, "invoices", retention_days=0)
    after = _data_files(container, "invoices")
    assert len(removed) == len(before) and after.isdisjoint(before)
    assert {name.rsplit("/", 1)[0] for name in after} == partitions and len(after) == len(
        partitions
    )
    assert upkeep.read_as_of(store, "invoices").sort_by("InvoiceID").equals(rows)
    with pytest.raises(ValueError):
        upkeep.vacuum(store, "invoices", retention_days=-1)


def test_show_prints_schema_row_count_and_versions(
    container: ContainerClient, store: TableStore
) -> None:
    _load_in_versions(container, store)
    other = land(container, "invoices", "t2", invoices("t2", 2), "20260101T000000.000Z-c")
    merge.merge_batches(store, INVOICES, container, [other])

    mine = show.describe(store, "xero/invoices", tenant_id="t1")
    everyone = show.describe(store, "invoices")
    text = show.render(mine)

    assert (mine.rows, everyone.rows, everyone.partitions) == (12, 14, 2)
    assert mine.version == everyone.version == mine.history[0].version
    assert [v.version for v in mine.history] == list(range(mine.version, -1, -1))
    assert text.splitlines()[1] == f"version {mine.version}, 12 row(s) for tenant t1"
    assert "  UpdatedDateUTC" in text and "timestamp[us, tz=UTC]" in text
    assert "MERGE" in text and "num_target_rows_updated=4" in text
    assert show.describe(store, "xero_tables/invoices", tenant_id="t1").rows == 12  # asset key
    with pytest.raises(show.UnknownTable, match="no table 'quickbooks/invoices'"):
        show.describe(store, "quickbooks/invoices")
    with pytest.raises(show.NotMergedYet, match="xero_tables/contacts is not merged yet"):
        show.describe(store, "contacts")

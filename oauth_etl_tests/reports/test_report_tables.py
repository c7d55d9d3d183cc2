"""The report tables over Azurite: readings appended and kept, the figures as of a past
moment, the wide monthly view, replays, and the checks on what the tables hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from oauth_etl.tables import report_checks as checks
from oauth_etl.tables import reports
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.reports_layout import monthly_name, reading_schema, table_name
from oauth_etl.tables.show import column_types
from oauth_etl.tables.writes import open_table
from oauth_etl_tests.reports.conftest import Books, months_before

RETENTION = 7


def _sales(rows: pa.Table, month: dt.date) -> Decimal:
    found = [
        r["value"]
        for r in rows.to_pylist()
        if r["label"] == "Total Income" and r["period_end"] == month
    ]
    assert len(found) == 1, found
    return Decimal(found[0])


def test_declared_columns_are_the_written_schema(books: Books, store: TableStore) -> None:
    months = months_before(books.today(), 2)
    reports.append_readings(
        store,
        "profit_and_loss",
        books.tenant,
        "b1",
        [books.profit_and_loss(months)],
        retention_days=RETENTION,
    )
    table = open_table(store, table_name("profit_and_loss"))
    assert table is not None
    written = pa.schema(table.schema().to_arrow())
    assert column_types(written) == column_types(reading_schema())
    assert table.metadata().partition_columns == ["tenant_id"]


def test_readings_are_kept_and_a_past_moment_is_a_query(books: Books, store: TableStore) -> None:
    months = months_before(books.today(), 3)
    first = books.profit_and_loss(months)
    written = reports.append_readings(
        store, "profit_and_loss", books.tenant, "b1", [first], retention_days=RETENTION
    )
    assert written.batches_appended == 1 and written.rows == len(first.cells)
    before = _sales(reports.readings(store, "profit_and_loss", books.tenant), months[1].end)
    between = dt.datetime.now(dt.UTC)

    # A back-dated sale in the middle month (no lock date): the month's figures change.
    books.xero.admin(
        "change",
        {
            "endpoint": "Invoices",
            "kind": "insert",
            "tenant_id": books.tenant,
            "date": months[1].start.replace(day=10).isoformat(),
        },
    )
    again = books.profit_and_loss([months[1]])
    reports.append_readings(
        store, "profit_and_loss", books.tenant, "b2", [again], retention_days=RETENTION
    )
    now = reports.readings(store, "profit_and_loss", books.tenant)
    after = _sales(now, months[1].end)
    assert after > before
    as_then = reports.readings(store, "profit_and_loss", books.tenant, as_of=between)
    assert _sales(as_then, months[1].end) == before
    # The months not read again keep their one reading; every reading stays in the table.
    assert _sales(now, months[0].end) == _sales(as_then, months[0].end)
    table = open_table(store, table_name("profit_and_loss"))
    assert table is not None
    assert table.to_pyarrow_dataset().count_rows() == len(first.cells) + len(again.cells)

    wide_rows = reports.write_monthly(
        store, "profit_and_loss", books.tenant, retention_days=RETENTION
    )
    view = open_table(store, monthly_name("profit_and_loss"))
    assert view is not None and wide_rows == view.to_pyarrow_dataset().count_rows()
    wide = view.to_pyarrow_table()
    columns = [f"{m.end:%Y-%m}" for m in months]
    assert [c for c in wide.column_names if c[:2] == "20"] == columns
    (income,) = [r for r in wide.to_pylist() if r["label"] == "Total Income"]
    assert income[columns[1]] == after and income["measure"] == ""
    assert income[columns[0]] == _sales(now, months[0].end)


def test_a_replayed_batch_adds_nothing(books: Books, store: TableStore) -> None:
    (month,) = months_before(books.today(), 1)
    reading = books.trial_balance(month.end)
    for _ in range(2):
        result = reports.append_readings(
            store, "trial_balance", books.tenant, "b1", [reading], retention_days=RETENTION
        )
    assert result.batches_skipped == 1 and result.batches_appended == 0
    assert reports.batches_in_table(store, "trial_balance", books.tenant) == {"b1"}
    rows = reports.readings(store, "trial_balance", books.tenant)
    assert rows.num_rows == len(reading.cells)
    # Several columns per date: the monthly view keeps them apart by `measure`.
    reports.write_monthly(store, "trial_balance", books.tenant, retention_days=RETENTION)
    view = open_table(store, monthly_name("trial_balance"))
    assert view is not None
    measures = set(view.to_pyarrow_table().column("measure").to_pylist())
    assert {"Debit", "Credit", "YTD Debit", "YTD Credit"} <= measures


def test_the_checks_pass_on_what_the_tables_hold(books: Books, store: TableStore) -> None:
    months = months_before(books.today(), 3)
    for name, reading in (
        ("balance_sheet", books.balance_sheet(months)),
        ("trial_balance", books.trial_balance(months[-1].end)),
    ):
        reports.append_readings(
            store, name, books.tenant, "b1", [reading], retention_days=RETENTION
        )
    sheet = reports.cells_of(reports.readings(store, "balance_sheet", books.tenant))
    trial = reports.cells_of(reports.readings(store, "trial_balance", books.tenant))
    assert checks.balance_sheet_balances(sheet).passed
    assert checks.trial_balance_balances(trial).passed
    assert len({c.period_end for c in sheet}) == 3
    values = reports.readings(store, "balance_sheet", books.tenant).column("value")
    assert pc.sum(values).as_py() == sum(
        (c.value for c in books.balance_sheet(months).cells if c.value is not None), Decimal(0)
    )


def test_cells_come_back_from_the_table_as_they_were_read(books: Books, store: TableStore) -> None:
    (month,) = months_before(books.today(), 1)
    aged = books.aged_receivables(month.end)[:5]
    reports.append_readings(
        store, "aged_receivables_by_contact", books.tenant, "b1", aged, retention_days=RETENTION
    )
    rows = reports.readings(store, "aged_receivables_by_contact", books.tenant)
    back = reports.cells_of(rows)
    read = [c for reading in aged for c in reading.cells]
    key = lambda c: (c.as_read_at, c.row_index, c.column)  # noqa: E731
    assert sorted(back, key=key) == sorted(read, key=key)
    assert any(c.attributes for c in back) and any(c.text for c in back)
    contacts = {r.request.params[0][1] for r in aged}
    assert set(rows.column("contact_id").to_pylist()) == contacts


def test_the_upkeep_compacts_report_tables_and_keeps_every_reading(
    books: Books, store: TableStore
) -> None:
    from oauth_etl.tables.upkeep import upkeep

    (month,) = months_before(books.today(), 1)
    for batch in ("b1", "b2", "b3"):
        reading = books.trial_balance(month.end)
        reports.append_readings(
            store, "trial_balance", books.tenant, batch, [reading], retention_days=RETENTION
        )
        reports.write_monthly(store, "trial_balance", books.tenant, retention_days=RETENTION)
    before = reports.readings(store, "trial_balance", books.tenant)
    for name in (table_name("trial_balance"), monthly_name("trial_balance")):
        table = open_table(store, name)
        assert table is not None
        rows = table.to_pyarrow_dataset().count_rows()
        result = upkeep(store, name, RETENTION)
        assert result.files_removed >= 1 or name.endswith("_monthly")
        after = open_table(store, name)
        assert after is not None and after.to_pyarrow_dataset().count_rows() == rows

    def rows_of(table: pa.Table) -> list[tuple[object, ...]]:
        return sorted(tuple(str(v) for v in row.values()) for row in table.to_pylist())

    assert rows_of(reports.readings(store, "trial_balance", books.tenant)) == rows_of(before)

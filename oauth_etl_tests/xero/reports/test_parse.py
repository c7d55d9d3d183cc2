"""Flattening report answers into cells: golden tests on the spec's examples, and one
test per row shape. (Sandbox answers: test_read.py.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest

from oauth_etl.xero.reports.catalog import report
from oauth_etl.xero.reports.model import Basis, Period, ReportCell, ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.parse import UnexpectedShape, cells, header_date, value_of
from oauth_etl_tests.xero.reports.test_catalog import spec

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ORG = Organisation(
    "t-1",
    base_currency="NZD",
    account_codes={"5040b0c4-e57c-4c40-9b65-f0d2feb1f05b": "090"},
)


def example(path: str) -> dict[str, Any]:
    """The spec's example answer, as Xero sends it (YAML reads the aged dates as dates)."""
    found = spec()["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return dict(orjson.loads(orjson.dumps(found["example"], default=lambda d: d.isoformat())))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def at(*ends: str) -> tuple[Period, ...]:
    return tuple(Period(day(e), day(e)) for e in ends)


def req(name: str, periods: tuple[Period, ...], **kw: Any) -> ReportRequest:
    return ReportRequest(name, (), periods, **kw)


def find(found: list[ReportCell], label: str, column: str) -> ReportCell:
    (hit,) = [c for c in found if c.label == label and c.column == column]
    return hit


def test_balance_sheet_example_maps_each_column_to_its_month_end() -> None:
    request = req("balance_sheet", at("2019-04-30", "2019-03-31", "2019-02-28"))
    found = cells(example("/Reports/BalanceSheet"), report("balance_sheet"), request, ORG, AT)
    bank = find(found, "My Big Bank", "31 Mar 2019")
    assert (bank.period_start, bank.period_end) == (day("2019-03-31"), day("2019-03-31"))
    assert bank.value == Decimal("2020.00") and bank.text is None
    assert bank.section_path == ("Bank",) and bank.row_type == "Row"
    assert bank.report_id == "BalanceSheet"  # the example has no ReportID: the catalog's
    assert bank.currency == "NZD" and bank.tenant_id == "t-1" and bank.as_read_at == AT
    total = find(found, "Total Fixed Assets", "30 Apr 2019")
    assert total.row_type == "SummaryRow" and total.value == Decimal("-119.00")
    assert total.account_id is None
    # every value cell of every row, 3 columns each
    assert len(found) % 3 == 0 and {c.column for c in found} == {
        "30 Apr 2019", "31 Mar 2019", "28 Feb 2019"
    }  # fmt: skip
    # row order kept
    assert [c.row_index for c in found] == sorted(c.row_index for c in found)


def test_trial_balance_example_keeps_empty_cells_as_text() -> None:
    request = req("trial_balance", at("2019-04-24"))
    found = cells(example("/Reports/TrialBalance"), report("trial_balance"), request, ORG, AT)
    sales_debit = find(found, "Sales (400)", "Debit")
    assert sales_debit.value is None and sales_debit.text == ""
    assert find(found, "Sales (400)", "YTD Credit").value == Decimal("1020.22")
    assert {c.period_end for c in found} == {day("2019-04-24")}
    assert find(found, "Sales (400)", "Credit").section_path == ("Revenue",)
    assert find(found, "Sales (400)", "Credit").account_id  # from the cell's attribute


def test_bank_summary_example_takes_the_account_from_the_label_cell() -> None:
    body = example("/Reports/BankSummary")
    request = req("bank_summary", (Period(day("2019-04-01"), day("2019-04-30")),))
    found = cells(body, report("bank_summary"), request, ORG, AT)
    opening = find(found, "Big City Bank", "Opening Balance")
    label_cell = body["Reports"][0]["Rows"][1]["Rows"][0]["Cells"][0]
    assert opening.account_id == label_cell["Attributes"][0]["Value"].lower()
    assert find(found, "Big City Bank", "Closing Balance").value == Decimal("10.00")
    assert find(found, "Total", "Cash Received").row_type == "SummaryRow"


def test_budget_summary_example_maps_month_headers() -> None:
    months = tuple(
        Period(day(s), day(e))
        for s, e in (("2020-01-01", "2020-01-31"), ("2020-04-01", "2020-04-30"))
    )
    found = cells(
        example("/Reports/BudgetSummary"), report("budget_summary"), req("budget_summary", months),
        ORG, AT,
    )  # fmt: skip
    gross = find(found, "Gross Profit", "Apr-20")
    assert (gross.period_start, gross.period_end) == (day("2020-04-01"), day("2020-04-30"))
    later = find(found, "Gross Profit", "Jul-20")  # a month outside the request: its own
    assert (later.period_start, later.period_end) == (day("2020-07-01"), day("2020-07-31"))
    assert gross.section_path == ()  # an untitled section


def test_executive_summary_example_keeps_ratios_as_text() -> None:
    month = (Period(day("2019-11-01"), day("2019-11-30")),)
    found = cells(
        example("/Reports/ExecutiveSummary"), report("executive_summary"),
        req("executive_summary", month), ORG, AT,
    )  # fmt: skip
    debtors = find(found, "Debtors", "Nov 2019")
    assert debtors.value == Decimal("590.00") and debtors.period_end == day("2019-11-30")
    previous = find(found, "Debtors", "Oct 2019")
    assert (previous.period_start, previous.value) == (day("2019-10-01"), Decimal("550.00"))
    variance = find(found, "Debtors", "Variance")
    assert variance.value is None and variance.text == "7.3%"
    assert variance.period_end == day("2019-11-30")


def test_aged_example_keeps_document_attributes() -> None:
    request = req("aged_receivables_by_contact", at("2019-04-23"))
    found = cells(
        example("/Reports/AgedReceivablesByContact"), report("aged_receivables_by_contact"),
        request, ORG, AT,
    )  # fmt: skip
    number = [c for c in found if c.column == "Number" and c.text == "IV1242016"]
    assert len(number) == 1
    ((key, invoice),) = number[0].attributes
    assert key == "invoiceID" and invoice
    total = [c for c in found if c.row_index == number[0].row_index and c.column == "Total"]
    assert total[0].value == Decimal("100.00") and total[0].attributes == number[0].attributes
    closing = find(found, "Closing Balance", "Total")
    assert closing.row_type == "SummaryRow" and closing.value == Decimal("150.00")


def test_ten_ninety_nine_example_one_cell_per_box() -> None:
    body = example("/Reports/TenNinetyNine")
    year = (Period(day("2023-01-01"), day("2023-12-31")),)
    found = cells(body, report("ten_ninety_nine"), req("ten_ninety_nine", year), ORG, AT)
    contacts = [c for r in body["Reports"] for c in r["Contacts"]]
    assert len(found) == sum(1 for c in contacts for k in c if k.startswith("Box")) > 3
    nec = [c for c in found if c.section_path == ("1099-NEC report",)]
    box4 = find(nec, "Bank West", "Box4")
    assert box4.value == Decimal("1150.00") and box4.row_type == "Contact"
    assert box4.attributes == (("ContactId", "81d5706a-8057-4338-8511-747cd85f4c68"),)
    assert box4.report_id == "TenNinetyNine" and box4.period_start == day("2023-01-01")


# -- row shapes ----------------------------------------------------------------------------
def doc(*rows: dict[str, Any], **report_fields: Any) -> dict[str, Any]:
    return {"Reports": [{"ReportID": "ProfitAndLoss", "Rows": list(rows), **report_fields}]}


def row(kind: str, *values: str, account: str | None = None) -> dict[str, Any]:
    attrs = [{"Id": "account", "Value": account}] if account else []
    return {"RowType": kind, "Cells": [{"Value": v, "Attributes": attrs} for v in values]}


def section(title: str, *rows: dict[str, Any]) -> dict[str, Any]:
    return {"RowType": "Section", "Title": title, "Rows": list(rows)}


HEADER = row("Header", "", "30 Nov 2026", "31 Oct 2026")
MONTHS = (
    Period(day("2026-11-01"), day("2026-11-30")),
    Period(day("2026-10-01"), day("2026-10-31")),
)
PL = report("profit_and_loss")


def flat(document: dict[str, Any], request: ReportRequest | None = None) -> list[ReportCell]:
    return cells(document, PL, request or req("profit_and_loss", MONTHS), ORG, AT)


def test_a_header_alone_has_no_cells() -> None:
    assert flat(doc(HEADER)) == []


def test_a_row_in_a_section_one_cell_per_period_column() -> None:
    found = flat(doc(HEADER, section("Income", row("Row", "Sales", "10.00", "20.50"))))
    assert [(c.period_start, c.value) for c in found] == [
        (day("2026-11-01"), Decimal("10.00")),
        (day("2026-10-01"), Decimal("20.50")),
    ]
    assert {(c.section_path, c.row_type, c.label, c.row_index) for c in found} == {
        (("Income",), "Row", "Sales", 0)
    }


def test_nested_sections_give_the_path_from_the_root() -> None:
    inner = section("Bank", row("Row", "Cheque", "1", "2"))
    found = flat(doc(HEADER, section("Assets", inner, row("SummaryRow", "Total", "1", "2"))))
    assert [c.section_path for c in found] == [("Assets", "Bank")] * 2 + [("Assets",)] * 2
    assert [c.row_index for c in found] == [0, 0, 1, 1]


def test_an_empty_section_and_an_untitled_one() -> None:
    found = flat(doc(HEADER, section("Assets"), section("", row("Row", "Net Profit", "5", "-5"))))
    assert [(c.section_path, c.label, c.value) for c in found] == [
        ((), "Net Profit", Decimal("5")),
        ((), "Net Profit", Decimal("-5")),
    ]


def test_a_summary_row_and_a_top_level_row() -> None:
    found = flat(doc(HEADER, row("SummaryRow", "Total", "1", "2"), row("Row", "X", "3", "4")))
    assert [(c.row_type, c.row_index) for c in found] == [
        ("SummaryRow", 0), ("SummaryRow", 0), ("Row", 1), ("Row", 1)
    ]  # fmt: skip


def test_account_id_and_code_from_the_attributes_and_the_chart() -> None:
    account = "5040B0C4-E57C-4C40-9B65-F0D2FEB1F05B"
    found = flat(doc(HEADER, section("Bank", row("Row", "Cheque", "1", "2", account=account))))
    assert {(c.account_id, c.account_code) for c in found} == {(account.lower(), "090")}
    unknown = flat(doc(HEADER, row("Row", "Other", "1", "2", account="abc")))
    assert {(c.account_id, c.account_code) for c in unknown} == {("abc", None)}


def test_values_that_are_not_numbers_keep_their_text() -> None:
    found = flat(
        doc(
            HEADER,
            row(
                "Row",
                "Ratio",
                "12.5%",
                "",
            ),
        )
    )
    assert [(c.value, c.text) for c in found] == [(None, "12.5%"), (None, "")]
    assert value_of("1,234.56") == Decimal("1234.56") and value_of("-0.00") == Decimal("0.00")
    assert value_of("12,34") is None and value_of("1e5") is None and value_of("NaN") is None


def test_tracking_columns_are_options_of_the_first_period() -> None:
    header = row("Header", "", "North", "Unassigned", "Total")
    request = req("profit_and_loss", MONTHS[:1], tracking_category_id="cat-1")
    found = flat(doc(header, row("Row", "Sales", "1", "2", "3")), request)
    assert [(c.tracking_option, c.tracking_category_id) for c in found] == [
        ("North", "cat-1"), ("Unassigned", "cat-1"), ("Total", "cat-1")
    ]  # fmt: skip
    assert {c.period_end for c in found} == {day("2026-11-30")}
    assert flat(doc(HEADER, row("Row", "X", "1", "2")))[0].tracking_option is None


def test_basis_comes_from_the_request() -> None:
    request = req("profit_and_loss", MONTHS, basis=Basis.CASH)
    assert {c.basis for c in flat(doc(HEADER, row("Row", "X", "1", "2")), request)} == {Basis.CASH}


def test_a_published_report_flattens_its_fields() -> None:
    body = doc(
        ReportName="GST Return",
        ReportDate="1 April 2026 to 30 June 2026",
        Fields=[{"FieldID": "G1", "Description": "Total sales", "Value": "110.00"}],
    )
    body["Reports"][0]["ReportID"] = "bc8b25da-a55e-43a7-9051-874b67a9788f"
    (cell,) = cells(body, report("published_report"), req("published_report", ()), ORG, AT)
    assert (cell.column, cell.label, cell.value, cell.row_type) == (
        "G1", "Total sales", Decimal("110.00"), "Field"
    )  # fmt: skip
    assert (cell.period_start, cell.period_end) == (day("2026-04-01"), day("2026-06-30"))
    assert cell.report_id == "bc8b25da-a55e-43a7-9051-874b67a9788f"


@pytest.mark.parametrize(
    "body",
    [{}, {"Reports": []}, {"Reports": [{"Rows": "x"}]}, {"Reports": [{"Rows": []}]}],
)
def test_bodies_of_another_shape_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(UnexpectedShape):
        flat(body)


def test_header_dates() -> None:
    assert header_date("30 Nov 2026") == (day("2026-11-30"), False)
    assert header_date("1 April 2026") == (day("2026-04-01"), False)
    assert header_date("Nov 2026") == (day("2026-11-01"), True)
    assert header_date("Jul-26") == (day("2026-07-01"), True)
    assert header_date("Debit") is None and header_date("31 Feb 2026") is None


def test_a_row_without_cells_and_a_row_longer_than_the_header() -> None:
    empty = {"RowType": "Row", "Cells": []}
    found = flat(doc(HEADER, empty, row("Row", "X", "1", "2", "3")))
    assert [(c.row_index, c.column, c.value) for c in found] == [
        (1, "30 Nov 2026", Decimal("1")),
        (1, "31 Oct 2026", Decimal("2")),
        (1, "", Decimal("3")),  # no header: the last column's period, no name
    ]
    assert found[2].period_end == day("2026-10-31")

"""ProfitAndLoss, BudgetSummary and ExecutiveSummary from the books.

Layouts are tables (`PL_LAYOUT`, `BUDGET_LAYOUT`): sections of account types, each
shown with the sign of its normal balance.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import product

from oauth_etl_dev.sandbox.data import parse_net_date
from oauth_etl_dev.sandbox.report_context import (
    DIRECT,
    EXPENSES,
    INCOME,
    OTHER_INCOME,
    ReportContext,
    profit,
)
from oauth_etl_dev.sandbox.report_shape import (
    Json,
    Period,
    ReportError,
    account_row,
    add_months,
    amount,
    cell,
    header,
    long_day,
    month_end,
    month_start,
    parse_date,
    periods,
    report,
    row,
    section,
    to_date,
    to_ms,
    total_row,
)

ZERO = Decimal(0)
# (section title, total row title, account types, sign); "=" rows: (title, formula)
# over the section totals so far. Xero's standard P&L sections (Income, Less Cost of
# Sales, Gross Profit, Other Income, Less Operating Expenses, Net Profit), as client
# parsers of Xero's P&L read them; the spec has no P&L example, so the exact row
# placement (Gross/Net Profit as a Row in an untitled Section, like the balance
# sheet's Net Assets in the getReportBalanceSheet example) is our assumption.
PL_LAYOUT: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("Income", "Total Income", INCOME, -1),
    ("Less Cost of Sales", "Total Cost of Sales", DIRECT, 1),
    ("=", "Gross Profit", (), 0),
    ("Other Income", "Total Other Income", OTHER_INCOME, -1),
    ("Less Operating Expenses", "Total Operating Expenses", EXPENSES, 1),
    ("=", "Net Profit", (), 0),
)


class Column:
    def __init__(self, period: Period, options: tuple[tuple[str, str], ...] = ()) -> None:
        self.period = period
        self.options = options


def _columns(ctx: ReportContext) -> tuple[list[Column], Period]:
    start = parse_date("fromDate", ctx.get("fromDate"), month_start(ctx.today))
    end = parse_date("toDate", ctx.get("toDate"), month_end(ctx.today))
    if end < start:
        raise ReportError("The toDate must be on or after the fromDate")  # our wording
    count = ctx.integer("periods", 0, 0, 12)  # spec getReportProfitAndLoss: 1 to 12
    timeframe = ctx.choice("timeframe", "MONTH", ("MONTH", "QUARTER", "YEAR"))
    first = Period(long_day(end), start, end)
    # Column labels as the balance sheet's ("30 Sep 2026", getReportBalanceSheet
    # example); fromDate/toDate default to this month (xero-ruby issue #167, maintainer
    # quoting Xero's docs: "Defaults to the begining of the current month").
    cat1 = ctx.tracking_category("trackingCategoryID")
    cat2 = ctx.tracking_category("trackingCategoryID2")
    for name, cat_name in (
        ("trackingOptionID", "trackingCategoryID"),
        ("trackingOptionID2", "trackingCategoryID2"),
    ):
        if ctx.get(name) and not ctx.get(cat_name):
            # Xero's message (Xero-Java issue #100: "TrackingCategoryID1 must be provided
            # if a TrackingOptionID1 is provided").
            raise ReportError(f"{cat_name} must be provided if a {name} is provided.")
    if cat1 is None and cat2 is None:
        return [Column(p) for p in periods(start, end, count, timeframe)], first
    # Tracking: one column per option (then Unassigned, then Total) of the first period;
    # trackingOptionID keeps one option (the spec's parameter descriptions; the column
    # layout and that tracking replaces the period columns: no source, our assumption).
    axes: list[list[tuple[str, str, str]]] = []
    for category, option_param in ((cat1, "trackingOptionID"), (cat2, "trackingOptionID2")):
        if category is None:
            continue
        cid = str(category["TrackingCategoryID"])
        opts = [(str(o["Name"]), cid, str(o["TrackingOptionID"])) for o in category["Options"]]
        wanted = (ctx.get(option_param) or "").lower()
        if wanted:
            opts = [o for o in opts if o[2].lower() == wanted]
            if not opts:
                raise ReportError(f"{option_param} {wanted} is not an option of {cid}")
        else:
            opts.append(("Unassigned", cid, ""))
        axes.append(opts)
    columns = []
    for combo in product(*axes):
        label = " - ".join(name for name, _, _ in combo)
        columns.append(Column(Period(label, start, end), tuple((c, o) for _, c, o in combo)))
    if not any(ctx.get(p) for p in ("trackingOptionID", "trackingOptionID2")):
        columns.append(Column(Period("Total", start, end)))
    return columns, first


def profit_and_loss(ctx: ReportContext) -> Json:
    ctx.flag("standardLayout")  # validated; the sandbox has only the standard layout
    columns, first = _columns(ctx)
    books, accounts = ctx.books, ctx.accounts()
    balances = [
        books.balances(c.period.to_ms, c.period.from_ms, ctx.cash, c.options) for c in columns
    ]
    rows: list[Json] = [header("", *(c.period.label for c in columns))]
    running = [ZERO] * len(columns)
    for title, total_title, types, sign in PL_LAYOUT:
        if title == "=":
            rows.append(section("", [total_row(total_title, running, summary=False)]))
            continue
        codes = sorted(c for c, a in accounts.items() if a.type in types)
        body = [
            account_row(
                accounts[c].name, accounts[c].account_id, [sign * b.get(c, ZERO) for b in balances]
            )
            for c in codes
            if any(b.get(c, ZERO) for b in balances)
        ]
        totals = [sign * sum((b.get(c, ZERO) for c in codes), ZERO) for b in balances]
        running = [r + (t if sign < 0 else -t) for r, t in zip(running, totals, strict=True)]
        if body:
            rows.append(section(title, [*body, total_row(total_title, totals)]))
    assert running == [profit(b, accounts) for b in balances]  # layout covers every type
    titles = [
        "Profit and Loss",
        ctx.org_name,
        f"{long_day(first.from_ms)} to {long_day(first.to_ms)}",
    ]
    return report("ProfitAndLoss", "Profit and Loss", titles, ctx.now_ms, rows)


# (section, summary row after it, account types, sign): getReportBudgetSummary example.
BUDGET_LAYOUT: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("Income", "Gross Profit", INCOME + DIRECT + OTHER_INCOME, -1),
    ("Expenses", "Total Expenses", EXPENSES, 1),
)


def budget_summary(ctx: ReportContext) -> Json:
    """The Overall budget by period: `date` (first month), `periods` (1-12) columns of
    `timeframe` months (1, 3 or 12; spec getReportBudgetSummary), oldest first as in
    the spec's example. No budget: the layout with zeros, as the spec's example of an
    empty budget shows."""
    start = to_date(month_start(parse_date("date", ctx.get("date"), ctx.today)))
    count = ctx.integer("periods", 12, 1, 12)
    step = ctx.integer("timeframe", 1, 1, 12)
    if step not in (1, 3, 12):
        raise ReportError("timeframe must be 1 (month), 3 (quarter) or 12 (year)")
    spans = [add_months(start, k * step) for k in range(count)]
    labels = [d.strftime("%b-%y") for d in spans]
    budgets = ctx.store.table("Budgets").records
    overall = next(
        (b for b in budgets if b.get("Type") == "OVERALL" and b.get("Status") != "DELETED"), None
    )
    by_id = {a.account_id.lower(): a for a in ctx.accounts().values()}
    amounts: dict[str, list[Decimal]] = {}
    for line in (overall or {}).get("BudgetLines", []):
        account = by_id.get(str(line.get("AccountID", "")).lower())
        if account is None:
            continue
        values = amounts.setdefault(account.code, [ZERO] * count)
        for balance in line.get("BudgetBalances", []):
            month = to_date(parse_period(str(balance.get("Period", ""))))
            for k, first in enumerate(spans):
                if first <= month < add_months(first, step):
                    values[k] += Decimal(str(balance.get("Amount", 0)))
    accounts = ctx.accounts()
    rows: list[Json] = [header("Account", *labels)]
    net = [ZERO] * count
    for title, summary, types, sign in BUDGET_LAYOUT:
        codes = sorted(c for c in amounts if accounts[c].type in types)
        body = [account_row(accounts[c].name, accounts[c].account_id, amounts[c]) for c in codes]
        totals = [sum((amounts[c][k] for c in codes), ZERO) for k in range(count)]
        net = [n - sign * t for n, t in zip(net, totals, strict=True)]
        if body:
            rows.append(section(title, body))
        rows.append(section("", [total_row(summary, totals)]))
    rows.append(section("", [total_row("Net Profit", net)]))
    end = add_months(spans[-1], step - 1)
    titles = [
        str((overall or {}).get("Description", "Overall Budget")),
        "Budget Summary",
        ctx.org_name,
        f"{start.strftime('%B %Y')} to {end.strftime('%B %Y')}",
    ]
    return report("BudgetSummary", "Budget Summary", titles, ctx.now_ms, rows)


def parse_period(text: str) -> int:
    """A budget balance's `Period` ("2026-06") as the month's first day."""
    try:
        year, month = text[:7].split("-")
        return to_ms(to_date(0).replace(year=int(year), month=int(month), day=1))
    except ValueError:
        return 0


def _variance(now: Decimal, before: Decimal) -> str:
    if not before:
        return "0.0%"
    return f"{(now - before) / abs(before) * 100:.1f}%"


def executive_summary(ctx: ReportContext) -> Json:
    """The month of `date` against the month before (spec getReportExecutiveSummary
    example: Cash, Profitability, Balance Sheet, Income sections; the Performance and
    Position ratios are left out: our simplification)."""
    day = parse_date("date", ctx.get("date"), ctx.today)
    months = [(month_start(day), month_end(day))]
    prev = add_months(to_date(months[0][0]), -1)
    months.append((to_ms(prev), month_end(to_ms(prev))))
    books, accounts = ctx.books, ctx.accounts()
    banks = [c for c, a in accounts.items() if a.type == "BANK"]
    figures: dict[str, list[Decimal]] = {}
    for start, end in months:
        moved = books.balances(end, start)
        closing = books.balances(end)
        bank_in = sum(
            (
                max(ZERO, n)
                for d, ln in books.lines()
                if start <= d <= end
                for n in [ln.net]
                if ln.code in banks
            ),
            ZERO,
        )
        bank_out = sum(
            (
                max(ZERO, -n)
                for d, ln in books.lines()
                if start <= d <= end
                for n in [ln.net]
                if ln.code in banks
            ),
            ZERO,
        )

        def group(types: tuple[str, ...], sign: int, b: dict[str, Decimal] = moved) -> Decimal:
            return sign * sum(
                (v for c, v in b.items() if accounts.get(c) and accounts[c].type in types), ZERO
            )

        income, direct = group(INCOME, -1), group(DIRECT, 1)
        other, expenses = group(OTHER_INCOME, -1), group(EXPENSES, 1)
        issued = [
            r
            for r in ctx.store.table("Invoices").records
            if r.get("Type") == "ACCREC"
            and r.get("Status") in ("AUTHORISED", "PAID")
            and start <= (parse_net_date(str(r.get("Date"))) or 0) <= end
        ]
        total_issued = sum((Decimal(str(r.get("Total", 0))) for r in issued), ZERO)
        values = {
            "Cash received": bank_in,
            "Cash spent": bank_out,
            "Cash surplus (deficit)": bank_in - bank_out,
            "Closing bank balance": sum((closing.get(c, ZERO) for c in banks), ZERO),
            "Income": income,
            "Direct costs": direct,
            "Gross profit (loss)": income - direct,
            "Other Income": other,
            "Expenses": expenses,
            "Profit (loss)": income - direct + other - expenses,
            "Debtors": closing.get("610", ZERO),
            "Creditors": -closing.get("800", ZERO),
            "Net assets": group(
                (
                    "BANK",
                    "CURRENT",
                    "FIXED",
                    "NONCURRENT",
                    "INVENTORY",
                    "PREPAYMENT",
                    "CURRLIAB",
                    "LIABILITY",
                    "TERMLIAB",
                ),
                1,
                closing,
            ),
            "Number of invoices issued": Decimal(len(issued)),
            "Average value of invoices": (total_issued / len(issued)) if issued else ZERO,
        }
        for name, value in values.items():
            figures.setdefault(name, []).append(value)
    layout = (
        ("Cash", ("Cash received", "Cash spent", "Cash surplus (deficit)", "Closing bank balance")),
        (
            "Profitability",
            (
                "Income",
                "Direct costs",
                "Gross profit (loss)",
                "Other Income",
                "Expenses",
                "Profit (loss)",
            ),
        ),
        ("Balance Sheet", ("Debtors", "Creditors", "Net assets")),
        ("Income", ("Number of invoices issued", "Average value of invoices")),
    )
    rows: list[Json] = [header("", *(to_date(s).strftime("%b %Y") for s, _ in months), "Variance")]
    for title, names in layout:
        body = []
        for name in names:
            now, before = figures[name]
            shown = [str(int(v)) if name.startswith("Number") else amount(v) for v in (now, before)]
            body.append(row([cell(name), *(cell(v) for v in shown), cell(_variance(now, before))]))
        rows.append(section(title, body))
    titles = [
        "Executive Summary",
        ctx.org_name,
        f"For the month of {to_date(day).strftime('%B %Y')}",
    ]
    return report("ExecutiveSummary", "Executive Summary", titles, ctx.now_ms, rows)

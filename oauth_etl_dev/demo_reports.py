"""The demo's financial statements: each tenant's reports read, tabulated and checked, then
a 12-month profit and loss and a balance sheet printed next to the check results.

Read from the wide monthly views (`report_<report>_monthly`), as a BI tool would. The
aged reports (one call per contact) and the other reports are left to the real job: the
demo reads what the statements and their checks need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import dagster as dg

from oauth_etl.defs.reports.assets import REPORT_ASSETS
from oauth_etl.defs.reports.checks import REPORT_CHECKS
from oauth_etl.defs.reports.organisation import xero_report_organisation
from oauth_etl.defs.reports.tables import REPORT_TABLE_ASSETS
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.reports_layout import monthly_name
from oauth_etl.tables.writes import open_table

Echo = Callable[[str], None]
READ = ("profit_and_loss", "balance_sheet", "trial_balance", "bank_summary")
MONTHS = 12
WIDTH = 11  # characters per figure


def _keys() -> list[dg.AssetKey]:
    keys = [xero_report_organisation.key]
    for asset in [*REPORT_ASSETS, *REPORT_TABLE_ASSETS]:
        keys += [k for k in asset.keys if k.path[-1].removesuffix("_monthly") in READ]
    return keys


def statement(store: TableStore, report: str, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's accrual lines of a report's monthly view, whole organisation, in
    Xero's order."""
    table = open_table(store, monthly_name(report))
    if table is None:
        return []
    rows = table.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)]).to_table()
    found = [
        r
        for r in rows.to_pylist()
        if r["basis"] == "accrual" and r["tracking_category_id"] is None and not r["measure"]
    ]
    return sorted(found, key=lambda r: r["row_order"])


def _figure(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def print_statement(title: str, lines: Sequence[dict[str, Any]], months: int, echo: Echo) -> None:
    columns = sorted({k for line in lines for k in line if k[:2] == "20" and line[k] is not None})
    shown = columns[-months:]
    echo(f"  {title}")
    echo(f"    {'':<30}" + "".join(f"{m:>{WIDTH}}" for m in shown))
    for line in lines:
        if all(line.get(m) is None for m in shown):
            continue
        label = ("  " if line["row_type"] == "Row" and line["section"] else "") + line["label"]
        figures = "".join(f"{_figure(line.get(m)):>{WIDTH}}" for m in shown)
        echo(f"    {label[:30]:<30}{figures}")


def run_reports(
    resources: dict[str, Any], instance: dg.DagsterInstance, tenant_ids: Sequence[str], echo: Echo
) -> list[str]:
    """Read, tabulate and check each tenant's statements; print them. Returns the checks
    that failed (as `asset:check (tenant)`)."""
    definitions = [xero_report_organisation, *REPORT_ASSETS, *REPORT_TABLE_ASSETS, *REPORT_CHECKS]
    tables = resources["tables"]
    assert isinstance(tables, DeltaTablesResource)
    failed: list[str] = []
    for tenant_id in tenant_ids:
        echo(f"reading the financial statements of tenant {tenant_id} (Xero's Reports API) ...")
        result = dg.materialize(
            definitions,
            selection=_keys(),
            partition_key=tenant_id,
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        if not result.success:
            failed.append(f"xero_reports ({tenant_id}): the run failed")
            continue
        print_statement(
            f"Profit and loss, last {MONTHS} months (accrual)",
            statement(tables.store, "profit_and_loss", tenant_id),
            MONTHS,
            echo,
        )
        print_statement(
            "Balance sheet at the last two month-ends (accrual)",
            statement(tables.store, "balance_sheet", tenant_id),
            2,
            echo,
        )
        echo("  checks:")
        for evaluation in result.get_asset_check_evaluations():
            mark = "ok  " if evaluation.passed else "FAIL"
            echo(f"    {mark} {evaluation.description}")
            if not evaluation.passed:
                failed.append(f"{evaluation.check_name} ({tenant_id})")
    return failed

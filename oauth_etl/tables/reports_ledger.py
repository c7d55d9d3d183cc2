"""What the report checks need from the endpoint tables: the chart's system accounts
(`accounts`) and the general ledger (`journals` + `journal_lines`) of one tenant."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.report_checks import Posting
from oauth_etl.tables.reports_layout import PROFIT_AND_LOSS_TYPES
from oauth_etl.tables.writes import open_table


def _tenant(store: TableStore, name: str, tenant_id: str, columns: list[str]) -> pa.Table | None:
    table = open_table(store, name)
    if table is None:
        return None
    dataset = table.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)])
    return dataset.to_table(columns=columns)


def system_accounts(store: TableStore, tenant_id: str) -> dict[str, list[str]] | None:
    """SystemAccount (DEBTORS, RETAINEDEARNINGS ...) -> the AccountIDs (lower case) of the
    tenant's chart of accounts (xero_accounting.yaml, schema Account.SystemAccount); None
    when the accounts table does not exist yet."""
    rows = _tenant(store, "accounts", tenant_id, ["AccountID", "SystemAccount"])
    if rows is None:
        return None
    out: dict[str, list[str]] = {}
    for account, system in zip(
        rows.column("AccountID").to_pylist(), rows.column("SystemAccount").to_pylist(), strict=True
    ):
        if account and system:
            out.setdefault(str(system), []).append(str(account).lower())
    return out


def postings(store: TableStore, tenant_id: str) -> list[Posting] | None:
    """Every journal line of the tenant with its journal's date; None when the journal
    tables do not exist (an app without `accounting.journals.read`)."""
    journals = _tenant(store, "journals", tenant_id, ["JournalID", "JournalDate"])
    lines = _tenant(
        store,
        "journal_lines",
        tenant_id,
        ["JournalID", "AccountID", "NetAmount", "AccountType"],
    )
    if journals is None or lines is None:
        return None
    dates = dict(
        zip(
            journals.column("JournalID").to_pylist(),
            journals.column("JournalDate").to_pylist(),
            strict=True,
        )
    )
    out = []
    for journal, account, net, kind in zip(
        *(
            lines.column(c).to_pylist()
            for c in ("JournalID", "AccountID", "NetAmount", "AccountType")
        ),
        strict=True,
    ):
        day = dates.get(journal)
        if day is None or account is None:
            continue
        amount = Decimal(net) if net is not None else Decimal(0)
        out.append(Posting(day, str(account), amount, kind in PROFIT_AND_LOSS_TYPES))
    return out

"""Asset checks that prove the report figures (`oauth_etl.tables.report_checks`), run on
what the report tables hold for the partition's tenant (the latest reading of each
period). A check fails on any wrong figure, a cent included, with the figures it compared
in its metadata; one with nothing to compare yet passes, saying so.
"""

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg

from oauth_etl.defs.reports.organisation import ORGANISATION_KEY, SOURCE
from oauth_etl.defs.reports.tables import report_table_key
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.tables.assets import table_key
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.storage.reader import iter_records, latest_batch
from oauth_etl.tables.reports_layout import (
    AGED_RECEIVABLES,
    BALANCE_SHEET,
    BANK_SUMMARY,
    PROFIT_AND_LOSS,
    TRIAL_BALANCE,
)

if TYPE_CHECKING:
    from oauth_etl.tables.report_checks import CheckResult
    from oauth_etl.xero.reports.model import ReportCell
    from oauth_etl.xero.reports.org import Organisation


class Inputs:
    """What one check run reads, each once: the tenant's latest readings per report, its
    organisation facts, its chart's system accounts and its journal lines."""

    def __init__(
        self, tables: DeltaTablesResource, storage: LandingStorageResource, tenant_id: str
    ) -> None:
        self.tables, self.storage, self.tenant_id = tables, storage, tenant_id

    def cells(self, report: str) -> list["ReportCell"]:
        from oauth_etl.tables.reports import cells_of, readings

        return cells_of(readings(self.tables.store, report, self.tenant_id))

    def organisation(self) -> "Organisation":
        from oauth_etl.xero.reports.org import Organisation

        container = self.storage.container_client()
        where = {"prefix": self.storage.prefix, "source": SOURCE, "tenant_id": self.tenant_id}
        found = latest_batch(container, endpoint=ORGANISATION_KEY.path[-1], **where)
        if found is None:
            raise LookupError(
                f"no landed {ORGANISATION_KEY.to_user_string()} for tenant {self.tenant_id}: "
                "materialize it (the xero_reports job does)"
            )
        (record,) = list(iter_records(container, found))
        return Organisation.from_records(
            self.tenant_id, record["Organisation"], record.get("Accounts") or []
        )

    def system_account(self, system: str) -> list[str]:
        from oauth_etl.tables.reports_ledger import system_accounts

        found = system_accounts(self.tables.store, self.tenant_id)
        if found is None:
            raise LookupError(
                "no xero_tables/accounts table: materialize it (the xero_tables job does) to "
                f"know the {system} account"
            )
        return found.get(system, [])


def trial_balance(inputs: Inputs) -> "CheckResult":
    from oauth_etl.tables.report_checks import trial_balance_balances

    return trial_balance_balances(inputs.cells(TRIAL_BALANCE))


def balance_sheet(inputs: Inputs) -> "CheckResult":
    from oauth_etl.tables.report_checks import balance_sheet_balances

    return balance_sheet_balances(inputs.cells(BALANCE_SHEET))


def net_profit(inputs: Inputs) -> "CheckResult":
    from oauth_etl.tables.report_checks import net_profit_matches_earnings

    return net_profit_matches_earnings(
        inputs.cells(PROFIT_AND_LOSS),
        inputs.cells(BALANCE_SHEET),
        organisation=inputs.organisation(),
    )


def bank_summary(inputs: Inputs) -> "CheckResult":
    from oauth_etl.tables.report_checks import bank_summary_matches_balance_sheet

    return bank_summary_matches_balance_sheet(
        inputs.cells(BANK_SUMMARY), inputs.cells(BALANCE_SHEET)
    )


def aged_receivables(inputs: Inputs) -> "CheckResult":
    from oauth_etl.tables.report_checks import aged_receivables_match_balance_sheet

    return aged_receivables_match_balance_sheet(
        inputs.cells(AGED_RECEIVABLES),
        inputs.cells(BALANCE_SHEET),
        inputs.system_account("DEBTORS"),
    )


def journals(inputs: Inputs) -> "CheckResult":
    from oauth_etl.tables.report_checks import CheckResult, journals_match_trial_balance
    from oauth_etl.tables.reports_ledger import postings

    lines = postings(inputs.tables.store, inputs.tenant_id)
    if lines is None:  # apps created from March 2026 cannot read Journals
        note = "no journal tables (Journals need accounting.journals.read): not compared"
        return CheckResult("journals_match_trial_balance", (), (note,))
    kept = inputs.system_account("RETAINEDEARNINGS")
    return journals_match_trial_balance(
        lines,
        inputs.cells(TRIAL_BALANCE),
        retained_earnings=kept[0] if kept else None,
        organisation=inputs.organisation(),
    )


# (check name, the report table it is on, the other assets it reads, what it proves, how)
CHECKS: tuple[
    tuple[str, str, tuple[dg.AssetKey, ...], str, Callable[[Inputs], "CheckResult"]], ...
] = (
    (
        "trial_balance_balances",
        TRIAL_BALANCE,
        (),
        "Per date, the account lines' debits equal their credits (month and year to date), "
        "each equal to the Total line.",
        trial_balance,
    ),
    (
        "journals_match_trial_balance",
        TRIAL_BALANCE,
        (table_key("journal_lines"), table_key("accounts")),
        "The trial balance rebuilt from journal_lines equals the report, account by account "
        "(where Journals are readable).",
        journals,
    ),
    (
        "balance_sheet_balances",
        BALANCE_SHEET,
        (),
        "Per date, asset lines = liability lines + equity lines, each side equal to its total.",
        balance_sheet,
    ),
    (
        "net_profit_matches_earnings",
        PROFIT_AND_LOSS,
        (report_table_key(BALANCE_SHEET), ORGANISATION_KEY),
        "Each month's P&L lines add up to its Net Profit, which equals the movement of the "
        "balance sheet's Current Year Earnings between the month-ends around it.",
        net_profit,
    ),
    (
        "bank_summary_matches_balance_sheet",
        BANK_SUMMARY,
        (report_table_key(BALANCE_SHEET),),
        "Each bank account's closing balance equals its balance sheet line at the period's end.",
        bank_summary,
    ),
    (
        "aged_receivables_match_balance_sheet",
        AGED_RECEIVABLES,
        (report_table_key(BALANCE_SHEET), table_key("accounts")),
        "The contacts' closing balances due add up to the balance sheet's accounts receivable "
        "on the same date.",
        aged_receivables,
    ),
)


def judge(proof: Callable[[Inputs], "CheckResult"], inputs: Inputs) -> dg.AssetCheckResult:
    try:
        result = proof(inputs)
    except LookupError as missing:
        return dg.AssetCheckResult(passed=False, description=str(missing).strip("'\""))
    metadata = result.metadata()
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.describe(),
        metadata={
            "compared": metadata["compared"],
            "differing": metadata["differing"],
            "figures": dg.MetadataValue.json(metadata["figures"]),
            "notes": dg.MetadataValue.json(metadata["notes"]),
        },
    )


def build_report_check(
    name: str,
    report: str,
    reads: tuple[dg.AssetKey, ...],
    description: str,
    proof: Callable[[Inputs], "CheckResult"],
) -> dg.AssetChecksDefinition:
    with warnings.catch_warnings():
        # Partitioned checks are "preview" in Dagster 1.13 (see defs/xero/checks.py).
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(
            asset=report_table_key(report),
            name=name,
            partitions_def=TENANTS,
            additional_deps=list(reads),
            description=description + " Fails on any difference, a cent included.",
        )
        def _check(
            context: dg.AssetCheckExecutionContext,
            tables: DeltaTablesResource,
            storage: LandingStorageResource,
        ) -> dg.AssetCheckResult:
            return judge(proof, Inputs(tables, storage, context.partition_key))

    return _check


# A module-level list: the defs autoloader collects lists of checks, not tuples.
REPORT_CHECKS: list[dg.AssetChecksDefinition] = [build_report_check(*row) for row in CHECKS]

"""Pins the code location: a change to a key, check, schedule or pool shows in review."""

import dagster as dg
import pytest

from oauth_etl.definitions import defs
from oauth_etl.defs.xero.assets import XERO_RETRY_POLICY

ENDPOINT_ASSETS = [
    "xero/accounts",
    "xero/bank_transactions",
    "xero/bank_transfers",
    "xero/batch_payments",
    "xero/branding_themes",
    "xero/budgets",
    "xero/contact_groups",
    "xero/contacts",
    "xero/credit_notes",
    "xero/currencies",
    "xero/expense_claims",
    "xero/invoices",
    "xero/items",
    "xero/journals",
    "xero/linked_transactions",
    "xero/manual_journals",
    "xero/organisation",
    "xero/overpayments",
    "xero/payments",
    "xero/prepayments",
    "xero/purchase_orders",
    "xero/quotes",
    "xero/receipts",
    "xero/repeating_invoices",
    "xero/tax_rates",
    "xero/tracking_categories",
    "xero/users",
]

TABLES = [key.replace("xero/", "xero_tables/") for key in ENDPOINT_ASSETS]
CHILD_TABLES = [
    "xero_tables/bank_transaction_line_items",
    "xero_tables/credit_note_line_items",
    "xero_tables/invoice_line_items",
    "xero_tables/journal_lines",
    "xero_tables/purchase_order_line_items",
    "xero_tables/quote_line_items",
]
# Issue #21: a landing asset per report, its long table and its monthly view, the checks;
# the published returns (GST/BAS) land and make a long table (Fields, not months), their
# list lands only.
PUBLISHED = ["xero_reports/published_reports", "xero_reports/published_report"]
REPORTS = [
    "aged_payables_by_contact",
    "aged_receivables_by_contact",
    "balance_sheet",
    "bank_summary",
    "budget_summary",
    "executive_summary",
    "profit_and_loss",
    "ten_ninety_nine",
    "trial_balance",
]
REPORT_ASSETS = [
    "xero_reports/organisation",
    *(f"xero_reports/{r}" for r in REPORTS),
    *(f"xero_report_tables/{r}" for r in REPORTS),
    *(f"xero_report_tables/{r}_monthly" for r in REPORTS),
    *PUBLISHED,
    "xero_report_tables/published_report",
]
REPORT_CHECKS = [
    "xero_report_tables/aged_receivables_by_contact:aged_receivables_match_balance_sheet",
    "xero_report_tables/balance_sheet:balance_sheet_balances",
    "xero_report_tables/bank_summary:bank_summary_matches_balance_sheet",
    "xero_report_tables/profit_and_loss:net_profit_matches_earnings",
    "xero_report_tables/trial_balance:journals_match_trial_balance",
    "xero_report_tables/trial_balance:trial_balance_balances",
]


@pytest.fixture(scope="module")
def repo() -> dg.RepositoryDefinition:
    return defs().get_repository_def()


def test_asset_keys(repo: dg.RepositoryDefinition) -> None:
    keys = sorted(k.to_user_string() for k in repo.asset_graph.get_all_asset_keys())
    assert keys == sorted(
        [*ENDPOINT_ASSETS, *TABLES, *CHILD_TABLES, "xero/tenants", *REPORT_ASSETS]
    )


def test_asset_checks(repo: dg.RepositoryDefinition) -> None:
    checks = sorted(k.to_user_string() for k in repo.asset_graph.asset_check_keys)
    assert checks == sorted(
        [f"{key}:landed_batch_valid" for key in ENDPOINT_ASSETS]
        + [f"{key}:ids_match_landed" for key in TABLES]
        + ["xero/tenants:xero_token_health"]
        + REPORT_CHECKS
    )


def test_schedules_sensors_jobs(repo: dg.RepositoryDefinition) -> None:
    schedules = {s.name: s for s in repo.schedule_defs}
    assert sorted(schedules) == [
        "landing_sweep_weekly",
        "xero_daily",
        "xero_tables_upkeep_weekly",
        "xero_token_health_daily",
        "xero_token_keepalive_weekly",
    ]
    assert schedules["xero_daily"].cron_schedule == "30 2 * * *"
    assert schedules["xero_token_keepalive_weekly"].cron_schedule == "15 4 * * 0"
    assert schedules["xero_token_health_daily"].cron_schedule == "0 6 * * *"
    assert schedules["xero_tables_upkeep_weekly"].cron_schedule == "30 5 * * 0"
    assert all(s.execution_timezone == "UTC" for s in schedules.values())
    assert sorted(s.name for s in repo.sensor_defs) == [
        "xero_reports_after_tables",
        "xero_tables_after_extract",
        "xero_tenants_sensor",
        "xero_webhooks_sensor",
    ]
    assert sorted(j.name for j in repo.get_all_jobs()) == [
        "__ASSET_JOB",
        "landing_sweep",
        "xero_extract",
        "xero_reports",
        "xero_tables",
        "xero_tables_upkeep",
        "xero_token_health",
        "xero_token_keepalive",
        "xero_webhook_extract",
    ]


def test_every_endpoint_asset_is_shaped_alike(repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    for key in ENDPOINT_ASSETS:
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.group_name == "xero"
        assert not node.pools  # tenants run side by side: no step pool
        assert repo.assets_defs_by_key[node.key].op.retry_policy == XERO_RETRY_POLICY
        assert node.partitions_def == dg.DynamicPartitionsDefinition(name="xero_tenants")
        assert {"dagster/kind/xero", "dagster/kind/azure"} <= set(node.tags)
        assert node.description and "GET /api.xro/2.0/" in node.description
    tenants = graph.get(dg.AssetKey(["xero", "tenants"]))
    assert tenants.partitions_def is None and not tenants.pools


def test_every_table_is_downstream_of_its_landing_asset(repo: dg.RepositoryDefinition) -> None:
    graph = repo.asset_graph
    for key in TABLES:
        node = graph.get(dg.AssetKey.from_user_string(key))
        landing = dg.AssetKey.from_user_string(key.replace("xero_tables/", "xero/"))
        assert node.parent_keys == {landing}
        assert node.group_name == "xero_tables"
        assert node.partitions_def == dg.DynamicPartitionsDefinition(name="xero_tenants")
        assert {"dagster/kind/delta", "dagster/kind/azure"} <= set(node.tags)
        assert "dagster/column_schema" in node.metadata
    children = {
        "xero_tables/invoice_line_items": "xero_tables/invoices",
        "xero_tables/journal_lines": "xero_tables/journals",
    }
    for child, parent in children.items():
        node = graph.get(dg.AssetKey.from_user_string(child))
        assert node.parent_keys == {dg.AssetKey.from_user_string(parent)}

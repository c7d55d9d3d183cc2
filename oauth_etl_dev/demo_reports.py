"""The demo's financial statements: each tenant's reports read, tabulated and checked, then
a 12-month profit and loss and a balance sheet printed next to the check results
(oauth_etl_dev/demo_statements.py).

The demo reads what the statements and every check its scopes allow need: P&L, balance
sheet, trial balance, bank summary and aged receivables (aged payables and the other
reports are left to the real job: no check reads them). The journals check needs
Journals, which apps created from March 2026 do not get: it is skipped, saying why.

Aged receivables cost one call per contact and month-end (`contactId` is required), some
2,000 calls for a demo organisation of 1,000 contacts: at Xero's 60 a minute that is over
half an hour a tenant. The demo's sandbox allows DEMO_MINUTE_LIMIT a minute and the
report runs' client paces to it; each tenant's calls are printed with what they would
take at Xero's limit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import dagster as dg

from oauth_etl.app.connection import XeroApi
from oauth_etl.defs.reports.assets import REPORT_ASSETS
from oauth_etl.defs.reports.checks import REPORT_CHECKS
from oauth_etl.defs.reports.organisation import SOURCE, xero_report_organisation
from oauth_etl.defs.reports.tables import REPORT_TABLE_ASSETS
from oauth_etl.defs.resources import XeroApiResource, XeroOAuthResource
from oauth_etl.defs.tables.resources import DeltaTablesResource
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.scopes import JOURNALS_SCOPE, RESTRICTED_SCOPES
from oauth_etl_dev.demo_statements import print_statements

Echo = Callable[[str], None]
READ = (
    "profit_and_loss",
    "balance_sheet",
    "trial_balance",
    "bank_summary",
    "aged_receivables_by_contact",
)
MONTHS = 12
JOURNALS_CHECK = "journals_match_trial_balance"
# 12 complete months before the current one, whatever the day (at most 366 + 31 days).
DEMO_HISTORY_DAYS = 400
DEMO_MINUTE_LIMIT = 10_000  # per tenant; Xero's is 60 (developer.xero.com/faq/limits)
XERO_MINUTE_LIMIT = 60
# The demo sandbox's flags for the statements (demo.py adds tenants, records, scopes).
SANDBOX_ARGS = ("--history-days", str(DEMO_HISTORY_DAYS), "--minute-limit", str(DEMO_MINUTE_LIMIT))


class DemoXeroApiResource(XeroApiResource):
    """XeroApiResource whose client paces to the demo sandbox's minute limit."""

    def _demo_api(self) -> XeroApi:
        oauth = cast(XeroOAuthResource, self.oauth)  # the dependency, resolved
        return XeroApi(
            oauth.connection,
            self.settings(),
            budget_factory=lambda tenant: RateBudget(tenant, per_minute=DEMO_MINUTE_LIMIT),
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._api = self._demo_api()

    @property
    def api(self) -> XeroApi:
        if self._api is None:
            self._api = self._demo_api()
        return self._api


def demo_xero(xero: XeroApiResource) -> DemoXeroApiResource:
    return DemoXeroApiResource(
        oauth=xero.oauth,
        timeout_seconds=xero.timeout_seconds,
        max_attempts=xero.max_attempts,
        page_size=xero.page_size,
    )


def _keys() -> list[dg.AssetKey]:
    keys = [xero_report_organisation.key]
    for asset in [*REPORT_ASSETS, *REPORT_TABLE_ASSETS]:
        keys += [k for k in asset.keys if k.path[-1].removesuffix("_monthly") in READ]
    return keys


def _name(check: dg.AssetChecksDefinition) -> str:
    return next(iter(check.check_keys)).name


def _calls(result: dg.ExecuteInProcessResult) -> int:
    """The run's Xero calls: each landing asset's `api_calls`."""
    total = 0
    for event in result.get_asset_materialization_events():
        key = event.asset_key
        if key is not None and key.path[0] == SOURCE:
            value = getattr(event.materialization.metadata.get("api_calls"), "value", 0)
            total += int(value) if isinstance(value, int) else 0
    return total


def run_reports(
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    tenant_ids: Sequence[str],
    echo: Echo,
    today: dt.date | None = None,
) -> list[str]:
    """Read, tabulate and check each tenant's statements; print them. Returns the checks
    that failed (as `asset:check (tenant)`)."""
    xero, tables = resources["xero"], resources["tables"]
    assert isinstance(xero, XeroApiResource) and isinstance(tables, DeltaTablesResource)
    journals = JOURNALS_SCOPE in (xero.granted_scopes() or ())
    checks = [c for c in REPORT_CHECKS if journals or _name(c) != JOURNALS_CHECK]
    definitions = [xero_report_organisation, *REPORT_ASSETS, *REPORT_TABLE_ASSETS, *checks]
    today = today or dt.datetime.now(dt.UTC).date()
    failed: list[str] = []
    for tenant_id in tenant_ids:
        echo(f"reading the financial statements of tenant {tenant_id} (Xero's Reports API) ...")
        result = dg.materialize(
            definitions,
            selection=_keys(),
            partition_key=tenant_id,
            instance=instance,
            resources={**resources, "xero": demo_xero(xero)},
            raise_on_error=False,
        )
        if not result.success:
            failed.append(f"xero_reports ({tenant_id}): the run failed")
            continue
        calls = _calls(result)
        echo(
            f"  {calls:,} report calls (paced to the demo sandbox's {DEMO_MINUTE_LIMIT:,} a "
            f"minute; at Xero's {XERO_MINUTE_LIMIT} a minute: "
            f"{math.ceil(calls / XERO_MINUTE_LIMIT)} min or more)"
        )
        print_statements(tables.store, tenant_id, today, MONTHS, echo)
        echo("  checks:")
        for evaluation in result.get_asset_check_evaluations():
            mark = "ok  " if evaluation.passed else "FAIL"
            said = evaluation.description or ""
            name = evaluation.check_name
            echo(f"    {mark} {said if said.startswith(name) else f'{name}: {said}'}")
            if not evaluation.passed:
                failed.append(f"{evaluation.check_name} ({tenant_id})")
        if not journals:
            echo(f"    skip {JOURNALS_CHECK}: not run: {RESTRICTED_SCOPES[JOURNALS_SCOPE]}")
    return failed

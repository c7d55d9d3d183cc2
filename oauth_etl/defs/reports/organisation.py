"""`xero_reports/organisation`: the facts a tenant's report plan needs, read once per run.

The Organisation record (financial year end, lock dates, base currency, country,
CreatedDateUTC: xero_accounting.yaml getOrganisations) and the chart of accounts (account
codes: getAccounts), two calls, landed as one record so that every report asset of the
run plans and flattens with the same facts.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.assets import NEEDS_A_PERSON, XERO_RETRY_POLICY
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.xero.catalog import endpoint
from oauth_etl.xero.errors import XeroError

SOURCE = "xero_reports"
GROUP = "xero_reports"
ORGANISATION_KEY = dg.AssetKey([GROUP, "organisation"])


def _facts(xero: XeroApiResource, tenant_id: str, stats: BatchStats) -> Iterator[dict[str, Any]]:
    client = xero.client()
    try:
        found: dict[str, Any] = {}
        for name, key in (("organisation", "Organisation"), ("accounts", "Accounts")):
            extraction = client.extract(endpoint(name), tenant_id)
            found[key] = list(extraction.records())
            stats.api_calls += extraction.stats.api_calls
    except (XeroError, OAuthError) as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"error": type(exc).__name__},
            allow_retries=not isinstance(exc, NEEDS_A_PERSON),
        ) from exc
    organisations = found["Organisation"]
    if len(organisations) != 1:
        raise dg.Failure(f"Xero answered {len(organisations)} Organisation records for {tenant_id}")
    yield {"Organisation": organisations[0], "Accounts": found["Accounts"]}


@dg.asset(
    key=ORGANISATION_KEY,
    group_name=GROUP,
    partitions_def=TENANTS,
    io_manager_key="landing_io_manager",
    kinds={"xero", "azure"},
    retry_policy=XERO_RETRY_POLICY,
    description=(
        "The organisation's financial year, lock dates, currency and chart of accounts "
        "(GET Organisation, GET Accounts: two calls), which every report asset of the run "
        "plans its periods and flattens its answers with."
    ),
)
def xero_report_organisation(
    context: dg.AssetExecutionContext, xero: XeroApiResource
) -> LandingBatch:
    tenant_id = context.partition_key
    stats = BatchStats()
    return LandingBatch(
        SOURCE, "organisation", tenant_id, _facts(xero, tenant_id, stats), stats=stats
    )

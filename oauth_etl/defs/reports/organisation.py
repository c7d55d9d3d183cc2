"""`xero_reports/organisation`: the facts a tenant's report plan needs, read once per run.

The Organisation record (financial year end, lock dates, base currency, country,
CreatedDateUTC: xero_accounting.yaml getOrganisations), the chart of accounts (account
codes, system accounts: getAccounts), the tracking categories (getTrackingCategories:
the P&L is split by each ACTIVE one), the contacts (getContacts: the aged reports are
read per contact) and the budgets (getBudgets: is there one to report), landed as one
record, so that every report asset of the run plans and flattens with the same facts.
"""

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import dagster as dg

from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.assets import XERO_RETRY_POLICY, failure
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.xero.catalog import endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.errors import NotEntitled, XeroError
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.periods import Facts

SOURCE = "xero_reports"
GROUP = "xero_reports"
ORGANISATION_KEY = dg.AssetKey([GROUP, "organisation"])
# (record key, catalog endpoint, needed): without a scope for an optional one (Budgets
# has its own, accounting.budgets.read) the plan goes without it.
READS = (
    ("Organisation", "organisation", True),
    ("Accounts", "accounts", True),
    ("TrackingCategories", "tracking_categories", True),
    ("Contacts", "contacts", True),
    ("Budgets", "budgets", False),
)
# What a plan needs of a contact: its id and whether it buys or sells.
CONTACT_FIELDS = ("ContactID", "IsCustomer", "IsSupplier", "ContactStatus")


def organisation_record(client: XeroClient, tenant_id: str, stats: BatchStats) -> dict[str, Any]:
    """The record `facts_of` reads: every READS endpoint, read whole (calls in `stats`)."""
    found: dict[str, Any] = {}
    for key, name, needed in READS:
        extraction = client.extract(endpoint(name), tenant_id)
        records: list[dict[str, Any]] | None
        try:
            records = list(extraction.records())
        except NotEntitled:
            if needed:
                raise
            # Landed as null, not []: "not granted" must not read as "the organisation
            # has none" (not_granted).
            records = None
            stats.extra[f"without_{name}"] = "not granted: read without it"
        if key == "Contacts" and records is not None:
            records = [{f: r.get(f) for f in CONTACT_FIELDS} for r in records]
        found[key] = records
        stats.api_calls += extraction.stats.api_calls
    organisations = found.pop("Organisation")
    if len(organisations) != 1:
        raise ValueError(f"Xero answered {len(organisations)} Organisation records for {tenant_id}")
    return {"Organisation": organisations[0], **found}


def _facts(xero: XeroApiResource, tenant_id: str, stats: BatchStats) -> Iterator[dict[str, Any]]:
    try:
        yield organisation_record(xero.client(), tenant_id, stats)
    except (XeroError, OAuthError) as exc:
        raise failure(exc) from exc
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc


def not_granted(record: Mapping[str, Any]) -> dict[str, str]:
    """The optional reads the token had no scope for (landed as null), each with the scope
    that reads it: {"Budgets": "accounting.budgets.read"}."""
    return {
        key: " or ".join(endpoint(name).scopes)
        for key, name, needed in READS
        if not needed and key in record and record[key] is None
    }


def facts_of(tenant_id: str, record: Mapping[str, Any]) -> Facts:
    """The planner's facts from the landed record (`Facts.from_records`), with every
    contact read for aged receivables, archived ones too: IsCustomer is set by an AR
    invoice only (xero_accounting.yaml, Contact.IsCustomer), so a contact owing through a
    credit note or a prepayment alone would be missed, and so would an archived contact
    still owing; the aged total would then fall short of the balance sheet's
    receivables."""
    org = Organisation.from_records(tenant_id, record["Organisation"], record["Accounts"])
    contacts = record.get("Contacts") or []
    facts = Facts.from_records(
        org,
        tracking_categories=record.get("TrackingCategories") or [],
        contacts=contacts,
        budgets=record.get("Budgets") or [],
    )
    return replace(facts, customers=tuple(str(c["ContactID"]) for c in contacts))


@dg.asset(
    key=ORGANISATION_KEY,
    group_name=GROUP,
    partitions_def=TENANTS,
    io_manager_key="landing_io_manager",
    kinds={"xero", "azure"},
    retry_policy=XERO_RETRY_POLICY,
    description=(
        "What the report plan needs, read once per run: the organisation (financial year, "
        "lock dates, currency), its accounts, tracking categories, contacts and budgets; "
        "every report asset of the run plans and flattens with it."
    ),
)
def xero_report_organisation(
    context: dg.AssetExecutionContext, xero: XeroApiResource
) -> LandingBatch:
    tenant_id = context.partition_key
    stats = BatchStats()
    records = _facts(xero, tenant_id, stats)
    return LandingBatch(SOURCE, "organisation", tenant_id, records, stats=stats)

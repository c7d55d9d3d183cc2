"""The webhook job: one tenant's endpoints that Xero said changed, landed and merged.

Its selection is every endpoint a webhook category reads (events.ENDPOINTS_BY_CATEGORY:
`xero/contacts`, `xero/invoices`, `xero/credit_notes`) with its Delta table and child
tables; a run selects the changed ones only. The landing assets read from their cursor
with If-Modified-Since, as in the daily job: a webhook decides when a tenant is read,
never what is read.
"""

import dagster as dg

from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.xero.jobs import IN_PROCESS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.webhooks.events import ENDPOINTS_BY_CATEGORY

WEBHOOK_ENDPOINTS = tuple(sorted(set(ENDPOINTS_BY_CATEGORY.values())))


def endpoint_keys(endpoint: str) -> list[dg.AssetKey]:
    """The landing asset of `endpoint` and every key its table's multi-asset writes (one
    merge writes the child tables too, so they are selected together)."""
    keys = [dg.AssetKey(["xero", endpoint])]
    for table in TABLE_ASSETS:
        if table_key(endpoint) in table.keys:
            keys += sorted(table.keys, key=lambda k: k.to_user_string())
    return keys


xero_webhook_job = dg.define_asset_job(
    "xero_webhook_extract",
    selection=dg.AssetSelection.assets(*(k for e in WEBHOOK_ENDPOINTS for k in endpoint_keys(e))),
    partitions_def=TENANTS,
    executor_def=dg.multi_or_in_process_executor,
    config=IN_PROCESS,
    description="The endpoints a Xero webhook said changed (contacts, invoices, credit notes) "
    "and their Delta tables, for one tenant, from the stored cursor (xero_webhooks_sensor).",
)

"""The organisations the Xero connection reaches, as Dagster dynamic partitions.

A newly connected tenant becomes a partition of every Xero asset without a code
change: the `xero/tenants` asset and `xero_tenants_sensor` (sensors.py) both register
what `/connections` returns.
"""

import dagster as dg

from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.assets import XERO_RETRY_POLICY
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.xero.client import Connection


def tenant_table(connections: list[Connection]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "tenant_id": c.tenant_id,
                    "tenant_name": c.tenant_name,
                    "tenant_type": c.tenant_type,
                }
            )
            for c in connections
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("tenant_id", "string"),
                dg.TableColumn("tenant_name", "string"),
                dg.TableColumn("tenant_type", "string"),
            ]
        ),
    )


def organisation_ids(connections: list[Connection]) -> list[str]:
    # Practice-manager connections have no accounting data: only organisations.
    return [c.tenant_id for c in connections if c.tenant_type == "ORGANISATION"]


@dg.asset(
    key=["xero", "tenants"],
    group_name="xero_connection",
    kinds={"xero"},
    retry_policy=XERO_RETRY_POLICY,
    description=(
        "The Xero organisations this connection reaches (`GET /connections`). "
        "Materializing it registers each one as a partition of the Xero assets."
    ),
)
def xero_tenants(
    context: dg.AssetExecutionContext, xero: XeroApiResource
) -> dg.MaterializeResult[None]:
    connections = xero.connections()
    tenant_ids = organisation_ids(connections)
    known = set(context.instance.get_dynamic_partitions(TENANTS.name or ""))
    new = [t for t in tenant_ids if t not in known]
    if new:
        context.instance.add_dynamic_partitions(TENANTS.name or "", new)
        context.log.info(f"registered {len(new)} new tenant partition(s): {', '.join(new)}")
    gone = sorted(known - set(tenant_ids))
    if gone:
        # Kept as partitions so their history stays visible; extraction skips them.
        context.log.warning(f"tenants no longer connected: {', '.join(gone)}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(tenant_ids),
            "tenants": tenant_table(connections),
            "new_tenants": len(new),
            "disconnected_tenants": ", ".join(gone),
        }
    )

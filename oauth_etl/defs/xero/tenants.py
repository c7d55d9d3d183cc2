"""The organisations the Xero connection reaches, as Dagster dynamic partitions.

A newly connected tenant becomes a partition of every Xero asset without a code
change: the `xero/tenants` asset and `xero_tenants_sensor` (sensors.py) both register
what `/connections` returns, asked with every token set (oauth_etl.app.token_sets). A set
that cannot answer does not hide the others' tenants: they are registered, then the
asset fails naming the set and its remedy.
"""

from collections.abc import Mapping

import dagster as dg

from oauth_etl.app.sets import VARIABLE
from oauth_etl.app.token_sets import Survey
from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.assets import XERO_RETRY_POLICY
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.oauth.errors import AuthorizationRequired
from oauth_etl.xero.client import Connection

OWNER_RULE = (
    "a tenant several token sets see is read with the first of them: the default set, "
    f"then {VARIABLE} in declared order"
)


def tenant_table(
    connections: list[Connection], owners: Mapping[str, str] | None = None
) -> dg.TableMetadataValue:
    """The tenants; with `owners` (several token sets) the set that reads each one."""
    columns = ["tenant_id", "tenant_name", "tenant_type"] + (["token_set"] if owners else [])
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "tenant_id": c.tenant_id,
                    "tenant_name": c.tenant_name,
                    "tenant_type": c.tenant_type,
                    **({"token_set": owners[c.tenant_id]} if owners else {}),
                }
            )
            for c in connections
        ],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in columns]),
    )


def surveyed(xero: XeroApiResource) -> Survey:
    """Every token set's organisations; with one set its error is raised as it always was."""
    found = xero.survey()
    if len(found.views) == 1 and found.views[0].error is not None:
        raise found.views[0].error
    return found


def set_metadata(found: Survey) -> dict[str, str]:
    """Per token set: how many organisations it sees and reads (several sets only)."""
    if len(found.views) == 1:
        return {}
    owners = found.owners()
    return {
        "owner_rule": OWNER_RULE,
        **{
            f"token_set/{v.name}": "could not answer"
            if v.error is not None
            else f"sees {len(v.connections)}, reads "
            f"{sum(1 for c in v.connections if owners[c.tenant_id] == v.name)}"
            for v in found.views
        },
    }


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
    found = surveyed(xero)
    connections = found.connections()
    tenant_ids = organisation_ids(connections)
    known = set(context.instance.get_dynamic_partitions(TENANTS.name or ""))
    new = [t for t in tenant_ids if t not in known]
    if new:
        context.instance.add_dynamic_partitions(TENANTS.name or "", new)
        context.log.info(f"registered {len(new)} new tenant partition(s): {', '.join(new)}")
    failed = found.failed()
    if failed:
        # Registered what the others see; the failing set's tenants are not "gone".
        raise dg.Failure(
            description=found.problem(),
            metadata={"registered": len(new), **set_metadata(found)},
            allow_retries=not all(isinstance(v.error, AuthorizationRequired) for v in failed),
        )
    gone = sorted(known - set(tenant_ids))
    if gone:
        # Kept as partitions so their history stays visible; extraction skips them.
        context.log.warning(f"tenants no longer connected: {', '.join(gone)}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(tenant_ids),
            "tenants": tenant_table(connections, found.owners() if len(found.views) > 1 else None),
            "new_tenants": len(new),
            "disconnected_tenants": ", ".join(gone),
            **set_metadata(found),
        }
    )

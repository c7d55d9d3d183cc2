"""`xero_tenants_sensor`: registers newly connected organisations as tenant partitions."""

import dagster as dg

from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import organisation_ids


@dg.sensor(
    name="xero_tenants_sensor",
    minimum_interval_seconds=3600,
    description="Adds newly connected Xero organisations as tenant partitions, hourly.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def xero_tenants_sensor(
    context: dg.SensorEvaluationContext, xero: XeroApiResource
) -> dg.SensorResult:
    tenant_ids = organisation_ids(xero.connections())
    known = set(context.instance.get_dynamic_partitions(TENANTS.name or ""))
    new = [t for t in tenant_ids if t not in known]
    if not new:
        return dg.SensorResult(skip_reason=f"no new tenants ({len(tenant_ids)} connected)")
    return dg.SensorResult(dynamic_partitions_requests=[TENANTS.build_add_request(new)])

"""`xero_tenants_sensor`: registers newly connected organisations as tenant partitions.

With several token sets it registers what the sets that answer see, and says which set
could not answer (the `xero/tenants` asset fails on it; the health check names it too).
"""

import dagster as dg

from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import organisation_ids, surveyed


@dg.sensor(
    name="xero_tenants_sensor",
    minimum_interval_seconds=3600,
    description="Adds newly connected Xero organisations as tenant partitions, hourly.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def xero_tenants_sensor(
    context: dg.SensorEvaluationContext, xero: XeroApiResource
) -> dg.SensorResult:
    found = surveyed(xero)
    tenant_ids = organisation_ids(found.connections())
    known = set(context.instance.get_dynamic_partitions(TENANTS.name or ""))
    new = [t for t in tenant_ids if t not in known]
    problem = found.problem()
    if problem:
        context.log.warning(problem)
    if not new:
        unanswered = f"; {problem}" if problem else ""
        return dg.SensorResult(
            skip_reason=f"no new tenants ({len(tenant_ids)} connected){unanswered}"
        )
    return dg.SensorResult(dynamic_partitions_requests=[TENANTS.build_add_request(new)])

"""Issue #12 end to end: users save invoices while Dagster extracts them into Azurite.

The sandbox edits records of the page it has just served after every call. Two
materializations later, every invoice that existed when the first one started has
landed in a version at least as new as it was then; each batch passes its check (no
id twice); and the newest version per id is what consumers keep.
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dagster as dg
import pytest

from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.checks import BATCH_CHECKS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.storage.reader import iter_records, list_batches
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle

INVOICES = next(a for a in ENDPOINT_ASSETS if a.key.path[-1] == "invoices")
CHECK = next(c for c in BATCH_CHECKS if any(k.asset_key == INVOICES.key for k in c.check_keys))


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxHandle:
    """Overrides the default: one tenant, 2,500 invoices (three pages of 1,000)."""
    return sandbox_factory("--tenants", "1", "--records", "2500", "--no-limits", "--seed", "3")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def snapshot(sandbox: SandboxHandle, tenant: str) -> dict[str, datetime]:
    rows = sandbox.admin.get(
        "/_sandbox/records", params={"tenant_id": tenant, "endpoint": "Invoices"}
    ).json()
    return {r["InvoiceID"]: parse_xero_datetime(r["UpdatedDateUTC"]) for r in rows}


@pytest.mark.timeout(600)
def test_invoices_saved_during_extraction_all_land(
    sandbox: SandboxHandle, local_env: dict[str, str], instance: dg.DagsterInstance
) -> None:
    resources = build_resources(env_vars=False)
    assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
    (tenant,) = instance.get_dynamic_partitions(TENANTS.name or "")
    at_start = snapshot(sandbox, tenant)
    sandbox.post(
        "/_sandbox/edits",
        {"per_call": 2, "target": "served", "endpoints": ["Invoices"], "seed": 5},
    )
    for _run in range(2):
        result = dg.materialize(
            [INVOICES, CHECK],
            partition_key=tenant,
            instance=instance,
            resources=resources,
        )
        assert result.success
        assert all(c.passed for c in result.get_asset_check_evaluations())
    edits = sandbox.stats()["edits"]
    assert isinstance(edits, dict) and sum(edits["applied"].values()) > 0

    storage = resources["storage"]
    assert isinstance(storage, LandingStorageResource)
    container = storage.container_client()
    newest: dict[str, Any] = {}
    batches = list_batches(
        container, prefix=storage.prefix, source="xero", tenant_id=tenant, endpoint="invoices"
    )
    assert len(batches) == 2
    for manifest in batches:
        for record in iter_records(container, manifest):
            stamp = parse_xero_datetime(record["UpdatedDateUTC"])
            key = record["InvoiceID"]
            newest[key] = max(stamp, newest.get(key, stamp))
    lost = [i for i in at_start if i not in newest]
    assert not lost, f"{len(lost)} invoices never landed"
    assert all(newest[i] >= stamp for i, stamp in at_start.items())

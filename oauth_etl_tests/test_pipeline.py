"""The whole pipeline on real parts: sandbox Xero over HTTP, Azurite, the multiprocess executor.

Every endpoint for two tenants lands exactly the sandbox's records; after the
sandbox changes some records, the next run lands only those.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import dagster as dg
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.checks import BATCH_CHECKS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records, latest_batch
from oauth_etl.xero.catalog import CATALOG, Endpoint
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl.xero.scopes import scopes_for
from oauth_etl_tests.conftest import SandboxHandle

# Endpoints of the xero_extract job (Journals is opt-in, so not in it): three paged
# with pageSize, incremental, and one snapshot.
MULTIPROCESS_ENDPOINTS = {"invoices", "contacts", "manual_journals", "tax_rates"}
# Step processes fork from a server that has imported the code location once.
MULTIPROCESS = {
    "execution": {
        "config": {
            "multiprocess": {
                "max_concurrent": 2,
                "start_method": {"forkserver": {"preload_modules": ["oauth_etl.definitions"]}},
            }
        }
    }
}


def extract_job() -> dg.JobDefinition:
    """Module-level so the multiprocess executor can rebuild it in each step process."""
    from oauth_etl.definitions import defs

    return defs().resolve_job_def("xero_extract")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def landed(container: ContainerClient, tenant_id: str, endpoint: Endpoint) -> Manifest:
    manifest = latest_batch(
        container, prefix="", source="xero", tenant_id=tenant_id, endpoint=endpoint.name
    )
    assert manifest is not None, f"nothing landed for {endpoint.name} / {tenant_id}"
    return manifest


def stamp(endpoint: Endpoint, record: dict[str, Any]) -> datetime | None:
    value = record.get(endpoint.cursor_field or "")
    return parse_xero_datetime(value) if isinstance(value, str) else None


def newest_stamp(endpoint: Endpoint, records: Iterable[dict[str, Any]]) -> datetime | None:
    return max((s for r in records if (s := stamp(endpoint, r)) is not None), default=None)


def identity(endpoint: Endpoint, record: dict[str, Any]) -> str:
    return str(record[endpoint.id_field]) if endpoint.id_field else repr(sorted(record.items()))


@pytest.mark.timeout(900)
def test_whole_catalog_for_two_tenants_equals_the_sandbox_then_only_changes(
    sandbox: SandboxHandle, local_env: dict[str, str], instance: dg.DagsterInstance
) -> None:
    resources = build_resources(env_vars=False)
    # The whole catalog needs the opt-in scopes (the sandbox's app has them): asked for
    # explicitly, as a user would with `oauth-etl authorize --with-journals ...`.
    opted = scopes_for(with_journals=True, with_classic_expenses=True)
    resources["oauth"].connection.authorize(
        mode="unattended", scopes=opted.scopes, output=lambda _: None
    )
    assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
    tenants = instance.get_dynamic_partitions(TENANTS.name or "")
    assert len(tenants) == 2

    # Tenant B: four endpoints through the multiprocess executor (a process per step
    # sharing one token store), the rest in process; tenant A wholly in process.
    tenant_a, tenant_b = tenants
    in_child_processes = [a for a in ENDPOINT_ASSETS if a.key.path[-1] in MULTIPROCESS_ENDPOINTS]
    result = dg.execute_job(
        dg.reconstructable(extract_job),
        instance=instance,
        tags={"dagster/partition": tenant_b},
        asset_selection=[a.key for a in in_child_processes],
        run_config=MULTIPROCESS,
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(MULTIPROCESS_ENDPOINTS) and all(c.passed for c in checks)
    for tenant_id, assets in (
        (tenant_a, ENDPOINT_ASSETS),
        (tenant_b, [a for a in ENDPOINT_ASSETS if a not in in_child_processes]),
    ):
        run = dg.materialize(
            [*assets, *BATCH_CHECKS],
            selection=[a.key for a in assets],
            partition_key=tenant_id,
            instance=instance,
            resources=resources,
        )
        assert run.success
        assert all(c.passed for c in run.get_asset_check_evaluations())

    storage = resources["storage"]
    assert isinstance(storage, LandingStorageResource)
    container = storage.container_client()
    for tenant_id in tenants:
        for endpoint in CATALOG:
            expected = sandbox.admin.get(
                "/_sandbox/records", params={"tenant_id": tenant_id, "endpoint": endpoint.path}
            ).json()
            manifest = landed(container, tenant_id, endpoint)
            records = list(iter_records(container, manifest))
            ids = [identity(endpoint, r) for r in records]
            assert len(ids) == len(set(ids)), endpoint.name
            assert sorted(ids) == sorted(identity(endpoint, r) for r in expected), endpoint.name
            assert manifest.record_count == len(expected)

    # The sandbox changes 3 contacts and adds 2: the next run lands exactly those, plus
    # (at-least-once, xero/cursor.py) any record stamped exactly at the saved cursor.
    tenant_id = tenants[0]
    boundary = {
        endpoint.name: newest_stamp(
            endpoint, iter_records(container, landed(container, tenant_id, endpoint))
        )
        for endpoint in CATALOG
        if endpoint.incremental
    }
    # The next run comes a day later in production; here past the tenant's minute window
    # on the sandbox's clock, so that it is not paced behind the first runs' calls.
    sandbox.advance_clock(62)
    change = sandbox.post(
        "/_sandbox/mutate",
        {"tenant_id": tenant_id, "endpoint": "Contacts", "modify": 3, "add": 2},
    ).json()
    second = dg.materialize(
        [*ENDPOINT_ASSETS, *BATCH_CHECKS],
        partition_key=tenant_id,
        instance=instance,
        resources=resources,
    )
    assert second.success
    for endpoint in CATALOG:
        manifest = landed(container, tenant_id, endpoint)
        ids = {identity(endpoint, r) for r in iter_records(container, manifest)}
        again = {
            identity(endpoint, r)
            for r in iter_records(container, manifest)
            if endpoint.incremental and stamp(endpoint, r) == boundary[endpoint.name]
        }
        if endpoint.name == "contacts":
            assert ids - again == set(change["modified"]) | set(change["added"])
        elif endpoint.incremental:
            assert ids == again, f"{endpoint.name} re-landed unchanged records"
        else:  # snapshots are whole every time
            assert manifest.record_count > 0

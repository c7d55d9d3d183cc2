"""`landed_batch_valid` judges the batch its materialization landed, and each fault fails it.

The asset below lands whatever records a test gives it through the real blob IO manager
on Azurite; the real check (built for `xero/invoices`, id field `InvoiceID`) then runs.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource
from oauth_etl.defs.xero.checks import build_batch_check, judge_landed_batch
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.storage import BatchStats, LandingBatch, list_batches, write_batch
from oauth_etl.xero.catalog import endpoint
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.storage._support import record

TENANT = "tenant-a"
CHECK = build_batch_check(endpoint("invoices"))
LANDS: dict[str, Any] = {}  # what the next materialization lands: records, expected count


@dg.asset(key=["xero", "invoices"], partitions_def=TENANTS, io_manager_key="landing_io_manager")
def invoices(context: dg.AssetExecutionContext) -> LandingBatch:
    return LandingBatch(
        "xero",
        "invoices",
        context.partition_key,
        iter(LANDS["records"]),
        stats=BatchStats(expected_records=LANDS.get("expected")),
    )


@pytest.fixture
def run(azurite: Azurite, container: ContainerClient) -> Iterator[Any]:
    storage = LandingStorageResource(
        credential=ConnectionString(connection_string=azurite.connection_string),
        container=container.container_name,
    )
    resources = {"storage": storage, "landing_io_manager": BlobLandingIOManager(storage=storage)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TENANTS.name or "", [TENANT])

        def materialize(
            *, check_only: bool = False
        ) -> dg.AssetCheckResult | dg.AssetCheckEvaluation:
            if check_only:
                # Dagster cannot plan a partitioned run of a check alone: judge as it does.
                return judge_landed_batch(instance, storage, endpoint("invoices"), TENANT)
            result = dg.materialize(
                [invoices, CHECK], partition_key=TENANT, instance=instance, resources=resources
            )
            (evaluation,) = result.get_asset_check_evaluations()
            return evaluation

        yield materialize


def lands(records: list[dict[str, Any]], expected: int | None = None) -> None:
    LANDS.clear()
    LANDS.update(records=records, expected=expected)


def test_a_sound_batch_passes(run: Any) -> None:
    lands([record(i) for i in range(5)], expected=5)
    evaluation = run()
    assert evaluation.passed
    assert evaluation.metadata["records"].value == 5


def test_duplicate_ids_fail(run: Any) -> None:
    lands([record(1), record(2), record(1)])
    evaluation = run()
    assert not evaluation.passed
    assert evaluation.metadata["duplicate_ids"].value == 1


def test_records_without_an_id_fail(run: Any) -> None:
    lands([record(1), {"InvoiceNumber": "INV-X"}])
    evaluation = run()
    assert not evaluation.passed
    assert evaluation.metadata["records_without_id"].value == 1


def test_a_count_other_than_xeros_fails(run: Any) -> None:
    lands([record(i) for i in range(3)], expected=4)
    evaluation = run()
    assert not evaluation.passed
    assert "Xero announced 4" in (evaluation.description or "")


def test_a_changed_part_fails_on_its_checksum(run: Any, container: ContainerClient) -> None:
    lands([record(i) for i in range(3)])
    assert run().passed
    (manifest,) = list_batches(
        container, prefix="", source="xero", tenant_id=TENANT, endpoint="invoices"
    )
    part = f"{manifest.location}/{manifest.parts[0].name}"
    container.upload_blob(part, b"\x1f\x8b not the bytes that were landed", overwrite=True)
    evaluation = run(check_only=True)
    assert not evaluation.passed
    assert part in (evaluation.description or "")


def test_no_materialization_fails_saying_so(run: Any) -> None:
    evaluation = run(check_only=True)
    assert not evaluation.passed
    assert "no landed batch" in (evaluation.description or "")


def test_the_check_reads_the_batch_of_its_materialization_not_the_newest(
    run: Any, container: ContainerClient
) -> None:
    lands([record(i) for i in range(3)])
    assert run().passed
    # A newer batch with a duplicate lands outside Dagster (no materialization records
    # it): the check still judges the batch its materialization landed.
    write_batch(
        container,
        LandingBatch("xero", "invoices", TENANT, iter([record(1), record(1)])),
        prefix="",
        run_id="outside",
    )
    evaluation = run(check_only=True)
    assert evaluation.passed
    assert (
        len(
            list_batches(container, prefix="", source="xero", tenant_id=TENANT, endpoint="invoices")
        )
        == 2
    )

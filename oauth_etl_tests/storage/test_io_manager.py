"""The IO manager inside real Dagster runs: land, record metadata, load downstream."""

# No `from __future__ import annotations`: Dagster reads the context annotation at runtime.

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.resources import XeroOAuthResource
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource, SasToken
from oauth_etl.storage import BatchStats, LandingBatch, list_batches
from oauth_etl_dev.local_services import AZURITE_KEY, Azurite
from oauth_etl_tests.storage._support import account_sas, record, records

TENANTS = dg.StaticPartitionsDefinition(["tenant-a", "tenant-b"])
PAGES = {"count": 3}  # pages of 50 records the next `invoices` run produces


def make_resources(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient, **io: Any
) -> tuple[dict[str, Any], str]:
    sas = account_sas(blob_service, read=True, write=True, list=True, create=True, delete=True)
    storage = LandingStorageResource(
        credential=SasToken(
            account_url=f"http://127.0.0.1:{azurite.port}/devstoreaccount1", sas_token=sas
        ),
        container=container.container_name,
        create_container=False,
        prefix="raw",
    )
    landing = BlobLandingIOManager(storage=storage, part_size_bytes=20_000, **io)
    return {"landing": landing, "storage": storage}, sas


@dg.asset(key=["xero", "invoices"], partitions_def=TENANTS, io_manager_key="landing")
def invoices(context: dg.AssetExecutionContext) -> LandingBatch:
    stats = BatchStats()

    def pages() -> Iterator[dict[str, Any]]:
        for page in range(PAGES["count"]):
            stats.api_calls += 1
            stats.pages += 1
            yield from (record(page * 50 + i) for i in range(50))
        stats.cursor_to = "2026-11-28T10:00:00"
        stats.expected_records = 50 * PAGES["count"]
        stats.extra["rate_limit_remaining"] = 57

    return LandingBatch(
        source="xero",
        endpoint="invoices",
        tenant_id=context.partition_key,
        records=pages(),
        cursor_from="2026-11-01T00:00:00",
        stats=stats,
    )


@dg.asset(partitions_def=TENANTS, ins={"rows": dg.AssetIn(key=["xero", "invoices"])})
def invoice_summary(rows: Iterator) -> dict[str, int]:  # type: ignore[type-arg]
    # Dagster accepts the bare ABC (it isinstance-checks the input), not Iterator[...].
    items = list(rows)
    return {"count": len(items), "first": int(items[0]["InvoiceNumber"][4:])}


def test_materialize_lands_and_downstream_loads(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    resources, sas = make_resources(azurite, blob_service, container)
    PAGES["count"] = 3
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [invoices, invoice_summary],
        partition_key="tenant-a",
        resources=resources,
        instance=instance,
    )
    assert result.success
    [landed] = result.asset_materializations_for_node("xero__invoices")
    meta: dict[str, Any] = {key: value.value for key, value in landed.metadata.items()}
    assert meta["dagster/row_count"] == 150
    assert meta["tenant_id"] == "tenant-a" and meta["source"] == "xero"
    assert meta["api_calls"] == 3 and meta["pages"] == 3 and meta["complete"] is True
    assert meta["cursor_from"] == "2026-11-01T00:00:00"
    assert meta["cursor_to"] == "2026-11-28T10:00:00"
    assert meta["rate_limit_remaining"] == 57 and meta["expected_records"] == 150
    assert meta["parts"] > 1 and meta["bytes"] > 0 and len(meta["sha256"]) == 64
    assert meta["batch_uri"] == (
        f"http://127.0.0.1:{azurite.port}/devstoreaccount1/{container.container_name}/"
        f"raw/xero/tenant-a/invoices/{meta['batch_id']}/"
    )
    assert result.output_for_node("invoice_summary") == {"count": 150, "first": 0}

    # No secret anywhere in the run's events (metadata, logs).
    signature = sas.split("sig=")[1].split("&")[0]
    for event in instance.all_logs(result.run_id):
        text = str(event)
        assert signature not in text and AZURITE_KEY not in text and "sig=" not in text

    # A second materialization lands a new batch; downstream reads exactly the newest one,
    # and load="all" reads both.
    PAGES["count"] = 2
    dg.materialize([invoices], partition_key="tenant-a", resources=resources, instance=instance)
    landed_batches = list_batches(
        container, prefix="raw", source="xero", tenant_id="tenant-a", endpoint="invoices"
    )
    assert len(landed_batches) == 2
    again = dg.materialize(
        [invoices, invoice_summary],
        partition_key="tenant-a",
        resources=resources,
        instance=instance,
        selection=[invoice_summary],
    )
    assert again.output_for_node("invoice_summary")["count"] == 100
    resources_all, _ = make_resources(azurite, blob_service, container, load="all")
    everything = dg.materialize(
        [invoices, invoice_summary],
        partition_key="tenant-a",
        resources=resources_all,
        instance=instance,
        selection=[invoice_summary],
    )
    assert everything.output_for_node("invoice_summary")["count"] == 250


def test_load_without_instance_metadata_falls_back_to_latest_batch(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    resources, _ = make_resources(azurite, blob_service, container)
    PAGES["count"] = 3
    dg.materialize([invoices], partition_key="tenant-b", resources=resources)
    # A fresh instance knows nothing of the materialization: the path comes from the asset
    # key (xero/invoices) and the partition key (tenant-b).
    result = dg.materialize(
        [invoices, invoice_summary],
        partition_key="tenant-b",
        resources=resources,
        selection=[invoice_summary],
    )
    assert result.output_for_node("invoice_summary")["count"] == 150
    missing = dg.materialize(
        [invoices, invoice_summary],
        partition_key="tenant-a",
        resources=resources,
        selection=[invoice_summary],
        raise_on_error=False,
    )
    assert not missing.success
    assert "no landed batch" in str(missing.get_step_failure_events()[0].step_failure_data.error)


def test_producer_error_fails_the_step_with_its_message(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    @dg.asset(key=["xero", "contacts"], io_manager_key="landing")
    def contacts() -> LandingBatch:
        def pages() -> Iterator[dict[str, Any]]:
            yield from records(100)
            raise RuntimeError("Xero API 500: something broke on page 2")

        return LandingBatch("xero", "contacts", "tenant-a", pages())

    @dg.asset(io_manager_key="landing")
    def not_a_batch() -> list[int]:
        return [1, 2, 3]

    resources, _ = make_resources(azurite, blob_service, container)
    result = dg.materialize([contacts], resources=resources, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    assert "Xero API 500: something broke on page 2" in str(error)
    assert (
        list_batches(
            container, prefix="raw", source="xero", tenant_id="tenant-a", endpoint="contacts"
        )
        == []
    )
    wrong = dg.materialize([not_a_batch], resources=resources, raise_on_error=False)
    message = str(wrong.get_step_failure_events()[0].step_failure_data.error)
    assert "lands LandingBatch outputs" in message and "is a list" in message


@pytest.mark.parametrize(
    ("shape", "field"),
    [
        (ConnectionString, "connection_string"),
        (SasToken, "sas_token"),
        (XeroOAuthResource, "client_secret"),
    ],
)
def test_secret_fields_are_marked_secret(shape: type[dg.Config], field: str) -> None:
    schema = shape.model_json_schema()
    assert schema["properties"][field].get("dagster__is_secret") is True


@dg.asset(
    ins={"rows": dg.AssetIn(key=["xero", "invoices"], partition_mapping=dg.AllPartitionMapping())}
)
def all_tenants_count(rows: Iterator) -> int:  # type: ignore[type-arg]
    return sum(1 for _ in rows)


def test_unpartitioned_downstream_reads_every_tenant(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    resources, _ = make_resources(azurite, blob_service, container)
    instance = dg.DagsterInstance.ephemeral()
    PAGES["count"] = 1
    dg.materialize([invoices], partition_key="tenant-a", resources=resources, instance=instance)
    PAGES["count"] = 2
    dg.materialize([invoices], partition_key="tenant-b", resources=resources, instance=instance)
    result = dg.materialize(
        [invoices, all_tenants_count],
        resources=resources,
        instance=instance,
        selection=[all_tenants_count],
    )
    assert result.output_for_node("all_tenants_count") == 150

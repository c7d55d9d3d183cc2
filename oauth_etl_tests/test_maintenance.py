"""The weekly landing sweep job deletes uncommitted parts and nothing else."""

import dagster as dg
from azure.storage.blob import ContainerClient

from oauth_etl.defs.maintenance import landing_sweep_job
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource
from oauth_etl.storage import LandingBatch, write_batch
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.storage._support import records


def test_sweep_job_deletes_parts_without_a_manifest(
    azurite: Azurite, container: ContainerClient
) -> None:
    done = write_batch(
        container, LandingBatch("xero", "invoices", "t1", records(3)), prefix="m/", run_id="ok"
    )
    orphan = "m/xero/t1/invoices/20260101T000000Z-dead/part-00000.jsonl.gz"
    container.upload_blob(orphan, b"partial")
    storage = LandingStorageResource(
        credential=ConnectionString(connection_string=azurite.connection_string),
        container=container.container_name,
        prefix="m/",
    )

    def run(hours: float) -> dg.ExecuteInProcessResult:
        return landing_sweep_job.execute_in_process(
            resources={"storage": storage},
            run_config={
                "ops": {"sweep_incomplete_landing_batches": {"config": {"older_than_hours": hours}}}
            },
        )

    kept = run(48.0)  # the orphan was written just now: it may still be in flight
    assert kept.success
    assert container.get_blob_client(orphan).exists()

    swept = run(0.0)
    assert swept.success
    remaining = {b.name for b in container.list_blobs(name_starts_with="m/")}
    assert remaining == {f"{done.location}/part-00000.jsonl.gz", f"{done.location}/_manifest.json"}

"""A writer SIGKILLed mid-upload leaves no batch that any reader can see."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

from azure.storage.blob import ContainerClient

from oauth_etl.storage import LandingBatch, list_batches, sweep_incomplete_batches, write_batch
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.storage._support import records, start_worker, wait_for_line


def test_sigkill_mid_upload_leaves_no_visible_batch(
    azurite: Azurite, container: ContainerClient
) -> None:
    writer = start_worker("slow-write", azurite.connection_string, container.container_name, "k/")
    try:
        wait_for_line(writer, "midway", timeout=30)
        # Wait until it has committed parts, so the kill lands mid-batch, not before it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            parts = [b.name for b in container.list_blobs(name_starts_with="k/")]
            if len(parts) >= 2:
                break
            time.sleep(0.05)
        assert len(parts) >= 2, parts
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(10)
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait(10)
    names = [b.name for b in container.list_blobs(name_starts_with="k/")]
    assert names and all(name.endswith(".jsonl.gz") for name in names), names
    assert (
        list_batches(container, prefix="k/", source="xero", tenant_id="t1", endpoint="invoices")
        == []
    )

    # The leftovers are swept once old enough; complete batches are never touched.
    done = write_batch(
        container, LandingBatch("xero", "invoices", "t1", records(5)), prefix="k/", run_id="ok"
    )
    assert sweep_incomplete_batches(container, prefix="k/") == []  # younger than a day
    swept = sweep_incomplete_batches(container, prefix="k/", older_than=timedelta(0))
    assert sorted(swept) == sorted(names)
    remaining = {b.name for b in container.list_blobs(name_starts_with="k/")}
    assert remaining == {f"{done.location}/part-00000.jsonl.gz", f"{done.location}/_manifest.json"}

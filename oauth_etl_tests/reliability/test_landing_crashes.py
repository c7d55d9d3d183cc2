"""Landing survives SIGKILL at random points of 20 uploads (issue #8).

Twenty writer processes (`landing_worker`) each land one batch of several parts into the
same tenant/endpoint directory; each is SIGKILLed after a seeded random delay, so kills
fall before the first part, between parts, around the manifest, or after the end. Then:
- `list_batches` lists exactly the batches whose manifest landed, never one without;
- every listed batch reads back in full with every part's size and sha256 checked, and
  its records are exactly the ones written (no manifest points to a missing/wrong part);
- a following run lands a complete batch next to the debris.

Seed with OAUTH_ETL_CRASH_SEED to replay another schedule (default fixed: reproducible).
oauth_etl_tests/storage/test_kill.py covers a single kill at one chosen point plus the sweep.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.storage import LandingBatch, iter_records, list_batches, write_batch
from oauth_etl.storage.manifest import MANIFEST_NAME
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.reliability.faults_log import record as record_fault
from oauth_etl_tests.reliability.landing_worker import ENDPOINT, SOURCE, TENANT
from oauth_etl_tests.storage._support import PROJECT_ROOT, record, records, wait_for_line

SEED = int(os.environ.get("OAUTH_ETL_CRASH_SEED", "20261128"))
WRITERS = 20
WAVE = 5  # writers started together (2 cores: more only slows the start-up)
RECORDS = 300  # ~150 kB of JSON per batch
PART_BYTES = 16_000  # ~10 parts per batch
MAX_KILL_DELAY = 1.5  # seconds after `ready`; a whole upload takes about 1 s
PREFIX = "crash/"


@dataclass
class Writer:
    run_id: str
    process: subprocess.Popen[str]
    delay: float
    killed: bool = False
    done_batch: str | None = None
    stderr: str = ""


def start(azurite: Azurite, container: ContainerClient, run_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oauth_etl_tests.reliability.landing_worker",
            azurite.connection_string,
            container.container_name,
            PREFIX,
            run_id,
            str(RECORDS),
            str(PART_BYTES),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the SIGKILL reaches only this writer
    )


def kill(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_wave(
    azurite: Azurite, container: ContainerClient, rng: random.Random, first: int
) -> list[Writer]:
    writers = [
        Writer(f"crash{i:02d}", start(azurite, container, f"crash{i:02d}"), rng.uniform(0, 1))
        for i in range(first, first + WAVE)
    ]
    try:
        for writer in writers:
            wait_for_line(writer.process, "ready", timeout=30)
            writer.delay *= MAX_KILL_DELAY
        began = time.monotonic()
        for writer in sorted(writers, key=lambda w: w.delay):
            time.sleep(max(0.0, began + writer.delay - time.monotonic()))
            writer.killed = writer.process.poll() is None
            kill(writer.process)
        for writer in writers:
            writer.process.wait(timeout=30)
            # Read through the text wrappers, not communicate(): `wait_for_line` may have
            # buffered the `done` line together with `ready`, and communicate() reads the
            # raw pipe only. The pipes hold a few lines at most, so waiting first is safe.
            assert writer.process.stdout is not None and writer.process.stderr is not None
            for line in writer.process.stdout.read().splitlines():
                if line.startswith("done "):
                    writer.done_batch = line.split()[1]
            writer.stderr = writer.process.stderr.read()[-2000:]
    finally:
        for writer in writers:
            if writer.process.poll() is None:
                kill(writer.process)
                writer.process.wait(10)
    return writers


def batch_dirs(container: ContainerClient) -> dict[str, set[str]]:
    """batch_id → the blob names in its directory."""
    base = f"{PREFIX}{SOURCE}/{TENANT}/{ENDPOINT}/"
    found: dict[str, set[str]] = {}
    for blob in container.list_blobs(name_starts_with=base):
        batch_id, name = blob.name[len(base) :].split("/", 1)
        found.setdefault(batch_id, set()).add(name)
    return found


@pytest.mark.timeout(120)
def test_sigkill_at_random_points_of_20_uploads(
    azurite: Azurite, container: ContainerClient
) -> None:
    rng = random.Random(SEED)
    writers: list[Writer] = []
    for first in range(0, WRITERS, WAVE):
        writers += run_wave(azurite, container, rng, first)

    def listed() -> list[str]:
        manifests = list_batches(
            container, prefix=PREFIX, source=SOURCE, tenant_id=TENANT, endpoint=ENDPOINT
        )
        expected = list(records(RECORDS))
        for manifest in manifests:
            # Every part exists and matches its size and sha256; the records are ours.
            assert list(iter_records(container, manifest, verify=True)) == expected
            assert manifest.record_count == RECORDS and len(manifest.parts) > 1
        return [m.batch_id for m in manifests]

    visible = listed()
    dirs = batch_dirs(container)
    with_manifest = {b for b, names in dirs.items() if MANIFEST_NAME in names}
    debris = {b for b, names in dirs.items() if MANIFEST_NAME not in names}
    done = {w.done_batch for w in writers if w.done_batch is not None}
    killed = sum(w.killed for w in writers)

    assert sorted(visible) == sorted(with_manifest)  # never a batch without its manifest
    assert done <= set(visible)  # every writer that finished is readable
    # A writer killed after its manifest landed but before it printed `done` is complete too.
    assert len(visible) - len(done) <= killed
    failed = [(w.run_id, w.stderr) for w in writers if not (w.killed or w.done_batch)]
    assert not failed, f"writers failed on their own: {failed}"
    # The schedule really interrupted uploads (otherwise this test proves nothing).
    assert debris, f"seed {SEED}: no kill landed mid-upload"

    # The next run lands a complete batch beside the debris.
    after = write_batch(
        container,
        LandingBatch(SOURCE, ENDPOINT, TENANT, records(RECORDS)),
        prefix=PREFIX,
        run_id="after-crash",
        part_size_bytes=PART_BYTES,
    )
    assert sorted(listed()) == sorted([*visible, after.batch_id])
    assert next(iter_records(container, after)) == record(0)

    record_fault(
        "SIGKILL of a batch writer at a random point",
        trials=WRITERS,
        outcome=(
            f"{killed} killed ({len(debris)} mid-upload, invisible), {len(visible)} complete "
            "and verified, next run landed"
        ),
        lost="0 partial batches visible",
    )

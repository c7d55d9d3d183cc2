"""A batch writer in its own process, for the SIGKILL tests of test_landing_crashes.py.

python -m oauth_etl_tests.reliability.landing_worker CONN CONTAINER PREFIX RUN_ID RECORDS PART_BYTES

Prints `ready` once imports and the client are set up (so the kill delay measures the
upload, not Python's start-up), then `done <batch_id> <records>` after the manifest landed.
Records are `oauth_etl_tests.storage._support.record(i)` for i in range(RECORDS), so the
test can check every landed batch record by record.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from oauth_etl.storage import LandingBatch, make_blob_service_client, write_batch
from oauth_etl_tests.storage._support import record

SOURCE, TENANT, ENDPOINT = "xero", "t1", "invoices"
# A small pause per record spreads one batch over about a second, so a random kill
# delay lands anywhere: before the first part, between parts, around the manifest.
PAUSE_EVERY, PAUSE_SECONDS = 10, 0.02


def slow_records(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        if i % PAUSE_EVERY == 0:
            time.sleep(PAUSE_SECONDS)
        yield record(i)


def main(argv: list[str]) -> None:
    conn, container_name, prefix, run_id, count, part_bytes = argv
    container = make_blob_service_client(connection_string=conn).get_container_client(
        container_name
    )
    print("ready", flush=True)
    batch = LandingBatch(SOURCE, ENDPOINT, TENANT, slow_records(int(count)))
    manifest = write_batch(
        container, batch, prefix=prefix, run_id=run_id, part_size_bytes=int(part_bytes)
    )
    print(f"done {manifest.batch_id} {manifest.record_count}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Child-process entry points for tests that need a second process or a SIGKILL.

python -m oauth_etl_tests.storage._worker lease CONN CONTAINER BLOB HOLD_S LOG ROUNDS
python -m oauth_etl_tests.storage._worker hold CONN CONTAINER BLOB
python -m oauth_etl_tests.storage._worker slow-write CONN CONTAINER PREFIX
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from oauth_etl.storage import BlobLeaseLock, LandingBatch, make_blob_service_client, write_batch
from oauth_etl_tests.storage._support import record


def lease_rounds(conn: str, container: str, blob: str, hold: float, log: str, rounds: int) -> None:
    client = make_blob_service_client(connection_string=conn)
    lock = BlobLeaseLock(
        client.get_blob_client(container, blob),
        lease_seconds=15,
        wait_timeout=30,
        poll_interval=0.05,
    )
    print("ready", flush=True)
    for _ in range(rounds):
        with lock.hold():
            with open(log, "a") as handle:
                handle.write(f"enter {os.getpid()} {time.time():.6f}\n")
            time.sleep(hold)
            with open(log, "a") as handle:
                handle.write(f"exit {os.getpid()} {time.time():.6f}\n")


def hold_forever(conn: str, container: str, blob: str) -> None:
    client = make_blob_service_client(connection_string=conn)
    lock = BlobLeaseLock(client.get_blob_client(container, blob), lease_seconds=15)
    with lock.hold():
        print("acquired", flush=True)
        time.sleep(600)


def slow_write(conn: str, container: str, prefix: str) -> None:
    client = make_blob_service_client(connection_string=conn).get_container_client(container)

    def slow_records() -> Iterator[dict[str, Any]]:
        for i in range(1_000_000):
            if i == 200:
                print("midway", flush=True)
            time.sleep(0.002)
            yield record(i)

    batch = LandingBatch(source="xero", endpoint="invoices", tenant_id="t1", records=slow_records())
    write_batch(client, batch, prefix=prefix, run_id="killme01", part_size_bytes=20_000)


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "lease":
        lease_rounds(args[0], args[1], args[2], float(args[3]), args[4], int(args[5]))
    elif command == "hold":
        hold_forever(*args)
    elif command == "slow-write":
        slow_write(*args)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])

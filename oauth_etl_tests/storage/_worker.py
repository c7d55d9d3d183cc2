"""Child-process entry points for tests that need a second process or a SIGKILL.

python -m oauth_etl_tests.storage._worker lease CONN CONTAINER BLOB HOLD_S LOG ROUNDS
python -m oauth_etl_tests.storage._worker hold CONN CONTAINER BLOB
"""

from __future__ import annotations

import os
import sys
import time

from oauth_etl.storage import BlobLeaseLock, make_blob_service_client


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


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "lease":
        lease_rounds(args[0], args[1], args[2], float(args[3]), args[4], int(args[5]))
    elif command == "hold":
        hold_forever(*args)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])

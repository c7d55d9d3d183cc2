"""The blob lease lock across real processes: exclusion, renewal, bounded wait, takeover."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from azure.storage.blob import BlobLeaseClient, ContainerClient

from oauth_etl.storage import BlobLeaseLock, LeaseLost, LeaseTimeout
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.storage._support import start_worker, wait_for_line


def kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def test_two_processes_never_hold_the_lock_together(
    azurite: Azurite, container: ContainerClient, tmp_path: Path
) -> None:
    log = tmp_path / "holds.log"
    workers = [
        start_worker(
            "lease",
            azurite.connection_string,
            container.container_name,
            "locks/a.lock",
            "0.15",
            str(log),
            "4",
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.wait(60) == 0, worker.stderr.read() if worker.stderr else ""
    finally:
        for worker in workers:
            kill(worker)
    events = [line.split() for line in log.read_text().splitlines()]
    assert len(events) == 16
    assert len({pid for _, pid, _ in events}) == 2
    # Sorted by time, holds must strictly alternate enter/exit of the same process.
    events.sort(key=lambda e: float(e[2]))
    for enter, leave in zip(events[::2], events[1::2], strict=True):
        assert (enter[0], leave[0], enter[1]) == ("enter", "exit", leave[1]), events


def test_bounded_wait_names_the_blob(container: ContainerClient) -> None:
    blob = container.get_blob_client("_locks/token.lock")
    holder = BlobLeaseLock(blob, lease_seconds=15)
    waiter = BlobLeaseLock(blob, lease_seconds=15, wait_timeout=1.0, poll_interval=0.2)
    with holder.hold():
        started = time.monotonic()
        with pytest.raises(LeaseTimeout) as caught, waiter.hold():
            pass
        assert 0.9 < time.monotonic() - started < 5
    message = str(caught.value)
    assert "_locks/token.lock" in message and container.container_name in message
    assert "within 1 s" in message
    # Released on exit: free again at once, and reusable.
    with waiter.hold():
        pass
    assert "token.lock" in holder.describe()
    with pytest.raises(ValueError, match=r"15\.\.60"):
        BlobLeaseLock(blob, lease_seconds=5)


def test_concurrent_creators_and_waiters_in_threads(container: ContainerClient) -> None:
    # The lock blob does not exist yet: every thread races to create it.
    inside = 0
    overlaps = 0
    guard = threading.Lock()

    def run() -> None:
        nonlocal inside, overlaps
        lock = BlobLeaseLock(
            container.get_blob_client("_locks/race.lock"),
            lease_seconds=15,
            wait_timeout=30,
            poll_interval=0.02,
        )
        with lock.hold():
            with guard:
                inside += 1
                overlaps += inside > 1
            time.sleep(0.05)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert overlaps == 0


def test_lost_lease_is_reported_on_exit(container: ContainerClient) -> None:
    blob = container.get_blob_client("_locks/lost.lock")
    lock = BlobLeaseLock(blob, lease_seconds=15)
    with pytest.raises(LeaseLost, match=r"lost\.lock"), lock.hold():
        # Someone breaks our lease and takes the lock.
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
        BlobLeaseClient(blob).acquire(lease_duration=15)
    assert lock.lost is not None

    class Boom(Exception):
        pass

    blob2 = container.get_blob_client("_locks/lost2.lock")
    lock2 = BlobLeaseLock(blob2, lease_seconds=15)
    with pytest.raises(Boom) as caught, lock2.hold():
        BlobLeaseClient(blob2).break_lease(lease_break_period=0)
        BlobLeaseClient(blob2).acquire(lease_duration=15)
        raise Boom("the body's own error wins")
    assert any("lost2.lock" in note for note in caught.value.__notes__)


def test_renewal_outlives_the_lease_and_a_killed_holder_is_taken_over(
    azurite: Azurite, container: ContainerClient
) -> None:
    """Holder process takes a 15 s lease, renewed every 5 s; it is still held at 16 s (so it
    was renewed), then the holder is SIGKILLed and a waiter takes over once it expires."""
    name = "_locks/token.lock"
    holder = start_worker("hold", azurite.connection_string, container.container_name, name)
    try:
        wait_for_line(holder, "acquired", timeout=20)
        acquired = time.monotonic()
        time.sleep(12 - (time.monotonic() - acquired))  # after the renewal at ~10 s
        os.killpg(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        time.sleep(max(0.0, 16 - (time.monotonic() - acquired)))
        probe = BlobLeaseLock(container.get_blob_client(name), lease_seconds=15, wait_timeout=0)
        with pytest.raises(LeaseTimeout), probe.hold():
            pass  # a 15 s lease is still held 16 s after it was taken: it was renewed
        waiter = BlobLeaseLock(
            container.get_blob_client(name), lease_seconds=15, wait_timeout=25, poll_interval=0.25
        )
        with waiter.hold():
            took_over = time.monotonic() - killed
        # The last renewal (~10 s) plus 15 s: about 13 s after the kill at ~12 s.
        assert 8 < took_over < 17, took_over
    finally:
        kill(holder)

"""While a batch streams, CPython's full collections are paused; the thresholds come back
after the last batch ends, on success and on error, however batches overlap."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.storage import LandingBatch, collector, write_batch
from oauth_etl.storage.collector import PAUSED_OLDEST, oldest_generation_paused
from oauth_etl_tests.storage._support import record


def test_a_streaming_batch_pauses_full_collections_and_restores_them(
    container: ContainerClient,
) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    def produce() -> Iterator[dict[str, Any]]:
        for i in range(50):
            seen.append(gc.get_threshold())
            yield record(i)

    batch = LandingBatch(source="xero", tenant_id="t", endpoint="invoices", records=produce())
    write_batch(container, batch, prefix="gc", run_id="run")
    assert {oldest for _, _, oldest in seen} == {PAUSED_OLDEST}
    # The young generations are still collected: short-lived cycles still go.
    assert {young for young, _, _ in seen} == {before[0]}
    assert gc.get_threshold() == before

    def failing() -> Iterator[dict[str, Any]]:
        yield record(0)
        raise RuntimeError("the API went away")

    failed = LandingBatch(source="xero", tenant_id="t", endpoint="invoices", records=failing())
    with pytest.raises(RuntimeError, match="went away"):
        write_batch(container, failed, prefix="gc", run_id="run")
    assert gc.get_threshold() == before


def test_overlapping_batches_restore_the_thresholds_only_after_the_last() -> None:
    before = gc.get_threshold()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    during: list[int] = []

    def second() -> None:
        with oldest_generation_paused():
            second_in.set()
            first_out.wait(10)
            during.append(gc.get_threshold()[2])  # the first has ended; this one has not

    with oldest_generation_paused():
        first_in.set()
        thread = threading.Thread(target=second)
        thread.start()
        assert second_in.wait(10)
    first_out.set()
    thread.join(10)
    assert during == [PAUSED_OLDEST]
    assert gc.get_threshold() == before


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_long_batch_still_frees_cycles_that_reached_the_oldest_generation(
    container: ContainerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector, "COLLECT_EVERY_BYTES", 2 * 1024 * 1024)
    freed: list[bool] = []

    def produce() -> Iterator[dict[str, Any]]:
        garbage = _Cycle()
        ref = weakref.ref(garbage)
        gc.collect(1)  # it survives the young generations: now it is in the oldest
        del garbage
        for i in range(3_000):  # ~3 MiB of JSON lines: past one full collection
            yield {"i": i, "pad": "x" * 1_000}
        freed.append(ref() is None)

    batch = LandingBatch(source="xero", tenant_id="t", endpoint="invoices", records=produce())
    write_batch(container, batch, prefix="gc", run_id="run")
    assert freed == [True]

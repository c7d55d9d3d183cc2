"""CPython's cyclic garbage collector while a batch streams (and while the code location
loads: oauth_etl/definitions.py).

Parsed pages are millions of small dicts and lists that live a few pages long: long
enough to be promoted to the oldest generation, whose growth then triggers full
collections, each walking every live object of the process (Dagster's definitions
included). On 100,000 invoices that was about a third of the extraction's CPU
(bench/throughput.py). The records are freed by reference counting; they form no
cycles. So while a batch streams, the oldest generation is not collected automatically;
the young ones still are, so short-lived cycles are still freed, and the thresholds
come back when the last batch in the process ends.

Some cycles do reach the oldest generation: httpx ties every response to its stream in
a cycle (the client streams the body out, so the cycle holds no page: xero/http.py).
The writer counts the bytes it streams (`streamed`) and runs a full collection every
COLLECT_EVERY_BYTES, so that garbage stays bounded whatever the batch size.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Collections of generation 1 before generation 2 is collected, while paused: in effect
# never during a batch (at the default 700 x 10 allocations per generation-1 collection,
# seven billion allocations).
PAUSED_OLDEST = 1_000_000
# Record bytes streamed between two full collections while paused (~200,000 invoices);
# what a pause can hold meanwhile is a few KiB of httpx objects per page.
COLLECT_EVERY_BYTES = 256 * 1024 * 1024

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None
_streamed = 0


@contextmanager
def oldest_generation_paused() -> Iterator[None]:
    """Pause automatic full collections for the block; nested and concurrent blocks share
    one pause, and the thresholds in force before the first are restored after the last."""
    global _active, _saved
    with _lock:
        if _active == 0:
            young, middle, oldest = gc.get_threshold()
            _saved = (young, middle, oldest)
            gc.set_threshold(young, middle, max(oldest, PAUSED_OLDEST))
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


def streamed(nbytes: int) -> None:
    """Count record bytes streamed; run a full collection each COLLECT_EVERY_BYTES."""
    global _streamed
    with _lock:
        _streamed += nbytes
        due = _streamed >= COLLECT_EVERY_BYTES
        if due:
            _streamed = 0
    if due:
        gc.collect()

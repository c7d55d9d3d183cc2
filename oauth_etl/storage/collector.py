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

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


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

"""The prefetch window (pages fetched concurrently, yielded in order) and the ids seen."""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from oauth_etl.xero.envelope import Page

if TYPE_CHECKING:
    from oauth_etl.xero.extraction import Extraction


class Seen:
    """Ids yielded so far, to yield each id once per extraction.

    `recent` holds the ids of the last `window` pages (a record shifted by a change
    can show up again only in a page fetched at the same time, i.e. within the
    prefetch window); `log` keeps a 64-bit hash of every id (8 bytes a record) for
    the gap re-reads of xero/paging.py, which turn it into a set only when needed.
    """

    def __init__(self, window: int) -> None:
        self.window = max(window, 1)
        self.recent: list[set[str]] = [set()]
        self.in_recent: set[str] = set()  # the union of `recent`: one lookup a record
        self.log: array[int] = array("q")
        self.everything: set[int] | None = None

    def remember_all(self) -> None:
        """From now on compare with every id of the run (the gap re-reads)."""
        if self.everything is None:
            self.everything = set(self.log)

    def add(self, key: str, *, anywhere: bool = False) -> bool:
        """True when `key` is new (and now remembered).

        `anywhere`: the record moved (saved during the run), so it may have been yielded
        from any earlier page: look through the whole log (a C-speed scan, rare).
        """
        hashed = hash(key)
        if self.everything is not None:
            if hashed in self.everything:
                return False
            self.everything.add(hashed)
        elif key in self.in_recent or (anywhere and hashed in self.log):
            return False
        self.recent[-1].add(key)
        self.in_recent.add(key)
        self.log.append(hashed)
        return True

    def next_page(self) -> None:
        self.recent.append(set())
        if len(self.recent) > self.window:
            # A key is in at most one page's set: it is added only when not in any.
            self.in_recent -= self.recent.pop(0)


def prefetch(x: Extraction, numbers: range) -> Iterator[Page]:
    """Pages `numbers` fetched up to `max_in_flight` at once, yielded in order.

    At most `prefetch_pages` are held, so memory does not grow with the data.
    """
    if not numbers:
        return
    window = max(x.client.prefetch_pages, 1)
    workers = min(x.client.max_in_flight, len(numbers))
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"xero-{x.endpoint.name}")
    pending: deque[Future[Page]] = deque()
    upcoming: Iterator[int] = iter(numbers)

    def fill() -> None:
        while len(pending) < window:
            number = next(upcoming, None)
            if number is None:
                return
            pending.append(executor.submit(x.fetch, number))

    try:
        fill()
        while pending:
            page = pending.popleft().result()  # a page's error surfaces here, in order
            fill()
            yield page
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)

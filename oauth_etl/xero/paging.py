"""How an extraction reads its pages, and why no record is lost while Xero's data changes.

Xero pages by offset over the filtered, ordered set (spec
xero_accounting.yaml, getInvoices `page`/`pageSize`/`order`). A record saved
during the read moves to the end of `order=UpdatedDateUTC ASC`; every record after
its old place moves one place back, and one of them can slip into a page already
read. The cursor rules (xero/cursor.py) turn "every record of the set as it was at
page 1 was read, or stamped after the horizon" into a safe cursor; this module makes
that statement true, in one of these ways:

- one call (`single`), one page (`pageCount` 1): a page is one consistent answer.
- `pages`: page 1, then pages 2..P-1 concurrently (the prefetch window), then page P
  alone, after every other page. A save during the read puts a record stamped after
  the horizon at the end of the set, so page P shows it; a record leaving (or joining)
  the set changes `itemCount`. If page P shows neither, nothing moved while we read:
  complete, at no extra call.
- `pages+gaps`: something moved. A record r is lost only if it sat after page k-1 when
  k-1 was read and before page k when k was read; unchanged records keep their stamps,
  so r is stamped between the last record of page k-1 and the first of page k (as
  read). Each such gap is re-read by keyset (below), usually in one small call, then the
  tail past page P (records saved during the read). Records already yielded are
  skipped, so a batch holds each id once.
- `keyset`: `page=1` with If-Modified-Since at the last stamp read, repeated to the end.
  Each answer is the first records stamped at or after the bound at that moment, so
  every unchanged record stamped before the answer's last one is in it, whatever moved
  meanwhile; a record saved meanwhile moves ahead of the reader and is read later.
  Sequential; it repeats the boundary second's records (skipped as seen). Used where no
  `pagination` proves a concurrent read (page-only Quotes, an incomplete object) and
  where a concurrent read could not finish within the day's remaining calls (a stopped
  keyset read keeps its progress; a stopped concurrent read keeps page 1's). Limits:
  more than a page of records within one second is read by offset inside that second
  (a save inside such a group during the read could shift one past us), and a read
  that saves outpace stops `TAIL_PAGES` past the horizon, leaving the rest to the next run.
- `offset` (Journals): by JournalNumber, exactly once; journals never change.
- `unordered` (LinkedTransactions: no `order`, no If-Modified-Since): a full snapshot
  each run, read until a short page; no cursor, no guarantee beyond the snapshot.

Any page longer than asked for, or repeating the previous page, means Xero ignored
`page` (tap-xero, 2022, ManualJournals with `order`): `PagingIgnored`, before the
daily budget is spent on copies.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from oauth_etl.xero import cursor
from oauth_etl.xero.catalog import ORDER_BY_UPDATED, UPDATED, Paging
from oauth_etl.xero.envelope import Page, stamp_of
from oauth_etl.xero.errors import MalformedResponse, PagingIgnored
from oauth_etl.xero.window import Seen, prefetch

if TYPE_CHECKING:
    from oauth_etl.xero.extraction import Extraction

GAP_PAGE = 100  # gap re-reads usually find nothing: ask for a small page
# Keyset pages read past the horizon before leaving the rest to the next run: bounds a
# read that saves outpace (then the next run lands those records, not this one).
TAIL_PAGES = 10


def read(x: Extraction) -> Iterator[Page]:
    endpoint = x.endpoint
    if endpoint.paging is Paging.NONE:
        first = x.fetch(1)
        x.start(first)
        x.stats.read_mode = "single"
        yield x.emit(first)
    elif endpoint.paging is Paging.OFFSET:
        x.stats.read_mode = "offset"
        yield from _offset(x)
    elif (
        endpoint.order == ORDER_BY_UPDATED
        and endpoint.cursor_field == UPDATED
        and endpoint.incremental
    ):
        yield from _ordered(x)
    else:
        x.stats.read_mode = "unordered"
        yield from _unordered(x)


# -- guards -------------------------------------------------------------------------------------


def _guard(x: Extraction, page: Page, asked: int, previous: Page | None) -> None:
    """Stop at once when Xero ignores `page` (every page the same, or everything at once)."""
    problem = None
    if len(page.records) > asked:
        problem = f"{len(page.records)} records for a page of {asked}"
    elif page.pagination is not None and page.pagination.page != page.number:
        problem = f"answered as page {page.pagination.page}"
    elif previous is not None and page.records and _signature(x, page) == _signature(x, previous):
        problem = f"the same records as page {previous.number}"
    if problem is not None:
        x.sync_counters()
        raise PagingIgnored(
            x.endpoint.path,
            page=page.number,
            problem=problem,
            calls=x.counters.calls,
            sent_order=x.endpoint.order is not None,
        )


def _served(page: Page, asked: int) -> int:
    """The page size Xero applied: its `pagination.pageSize` when it says (it may cap)."""
    if page.pagination is not None and 0 < page.pagination.page_size < asked:
        return page.pagination.page_size
    return asked


def _short(page: Page, asked: int) -> bool:
    """Fewer records than a full page: the last one."""
    return len(page.records) < _served(page, asked)


def _signature(x: Extraction, page: Page) -> tuple[object, ...]:
    key = x.endpoint.id_field
    if key is None or not page.records:
        return (len(page.records),)
    return (len(page.records), page.records[0].get(key), page.records[-1].get(key))


def _first_and_last(x: Extraction, page: Page) -> tuple[datetime | None, datetime | None]:
    field = x.endpoint.cursor_field
    if not page.records:
        return None, None
    return stamp_of(page.records[0], field), stamp_of(page.records[-1], field)


# -- ordered by UpdatedDateUTC ----------------------------------------------------------------


def _ordered(x: Extraction) -> Iterator[Page]:
    size = x.page_size
    first = x.fetch(1)
    x.start(first)
    _guard(x, first, size, None)
    pagination = first.pagination
    if pagination is None:
        # Page-only endpoints, or a pagination object Xero left incomplete.
        x.seen = Seen(2)
        yield from _keyset(x, first, size)
        return
    x.stats.page_count = pagination.page_count
    x.stats.expected_records = pagination.item_count
    size = _served(first, size)
    if pagination.page_count <= 1:
        x.stats.read_mode = "pages"
        x.exact_count = True
        yield x.emit(first)
        return
    if _budget_too_short(x, pagination.page_count - 1):
        x.seen = Seen(2)
        yield from _keyset(x, first, size)
        return
    x.seen = Seen(max(x.client.prefetch_pages, 1) + 1)
    yield from _pages(x, first, size)


def _budget_too_short(x: Extraction, more_pages: int) -> bool:
    """A concurrent read stopped by the day limit keeps only page 1's progress: avoid it."""
    remaining = x.budget.snapshot().get("day_remaining")
    return isinstance(remaining, int) and more_pages > remaining // 2


def _pages(x: Extraction, first: Page, size: int) -> Iterator[Page]:
    assert first.pagination is not None
    count, items = first.pagination.page_count, first.pagination.item_count
    x.stats.read_mode = "pages"
    bounds = [_first_and_last(x, first)]
    # Page 1 is one consistent answer: everything stamped before its last record is read.
    x.proven_below = bounds[0][1]
    yield x.emit(first)
    previous = first
    before = (x.stats.changed, x.stats.duplicates)
    for page in prefetch(x, range(2, count)):
        # Against page 1, read before all of these: pages read side by side may come in
        # any order, and a page read after saves moved records back can hold what the page
        # before it held when that one was read earlier (a live edit, not Xero ignoring
        # `page`; which repeats page 1 on every page, so this still stops at page 2).
        _guard(x, page, size, first)
        bounds.append(_first_and_last(x, page))
        yield x.emit(page, moving=True)
        previous = page
    last = x.fetch(count)  # alone, after every other page: it sees what moved
    _guard(x, last, size, previous)
    bounds.append(_first_and_last(x, last))
    yield x.emit(last, moving=True)
    changed = before != (x.stats.changed, x.stats.duplicates)
    moved = last.pagination is None or last.pagination.item_count != items
    if not changed and not moved:
        x.exact_count = True
        return
    x.stats.read_mode = "pages+gaps"
    yield from _gaps(x, bounds)
    # Records saved during the read went to the end, past page P if the set grew.
    tail = next((b[1] for b in reversed(bounds) if b[1] is not None), None)
    if tail is not None:
        yield from _keyset_until(x, tail, None, size)


def _gaps(x: Extraction, bounds: list[tuple[datetime | None, datetime | None]]) -> Iterator[Page]:
    """Re-read between each page's last record and the next page's first (see module doc).

    `bounds` are each page's first and last stamps as read. A keyset read is contiguous
    from where it starts, so one read may cover several gaps.
    """
    assert x.seen is not None
    x.seen.remember_all()
    low: datetime | None = bounds[0][1]
    covered: tuple[datetime, datetime] | None = None  # a gap read read all of [from, to]
    for k in range(1, len(bounds)):
        if bounds[k - 1][1] is not None:
            low = bounds[k - 1][1]
        high = bounds[k][0]  # None: page k came back empty; the tail read covers it
        if low is None or high is None:
            continue
        done = covered is not None and covered[0] <= low and cursor.covers(covered[1], high)
        if not done:
            newest = yield from _keyset_until(x, low, high, GAP_PAGE)
            covered = (low, newest) if newest is not None else None
        # Pages 1..k and the gaps between them are contiguous: all before page k's end is read.
        end = bounds[k][1]
        if end is not None and (x.proven_below is None or end > x.proven_below):
            x.proven_below = end


def _keyset_until(
    x: Extraction, start: datetime, target: datetime | None, size: int, *, verify: bool = True
) -> Generator[Page, None, datetime | None]:
    """Keyset pages from `start` until one passes `target`, or to the end (None).

    Returns the newest stamp read. `verify`: counted as calls spent on proving.
    """
    bound = cursor.request_bound(start)
    number, previous = 1, None
    newest: datetime | None = None
    past_horizon = 0
    while True:
        page = x.fetch(number, since=bound, page_size=size)
        x.stats.verify_calls += int(verify)
        _guard(x, page, size, previous)
        _, newest = _first_and_last(x, page)
        yield x.emit(page, moving=True)
        if _short(page, size) or newest is None:
            return newest
        if target is not None and cursor.covers(newest, target):
            return newest
        if cursor.after_horizon(newest, x.limit):
            past_horizon += 1
            if past_horizon > TAIL_PAGES:
                return newest  # saves outpace the read: the next run takes the rest
        else:
            x.proven_below = max(newest, x.proven_below or newest)
        bound, number, previous = _advance(bound, newest, number, page)


def _advance(
    bound: datetime, newest: datetime, number: int, page: Page
) -> tuple[datetime, int, Page | None]:
    following = cursor.request_bound(newest)
    if following > bound:
        return following, 1, None
    # A whole page within one second: go on by offset inside that second.
    return bound, number + 1, page


def _keyset(x: Extraction, first: Page, size: int) -> Iterator[Page]:
    x.stats.read_mode = "keyset"
    x.stats.expected_records = None
    yield x.emit(first)  # page 1 is one consistent answer
    if _short(first, size):
        return
    _, newest = _first_and_last(x, first)
    if newest is None:
        raise MalformedResponse(
            x.endpoint.path,
            page=first.number,
            problem=f"a record without {x.endpoint.cursor_field}: cannot read on from it",
        )
    if not cursor.after_horizon(newest, x.limit):
        x.proven_below = newest
    yield from _keyset_until(x, newest, None, size, verify=False)


# -- journals and unordered endpoints -----------------------------------------------------------


def _offset(x: Extraction) -> Iterator[Page]:
    field_name = x.endpoint.offset_field or "JournalNumber"
    offset = x.start_offset or 0
    number = 0
    while True:
        number += 1
        page = x.fetch(number, offset=offset)
        if number == 1:
            x.start(page)
        _guard(x, page, x.page_size, None)
        yield x.emit(page)
        x.proven_below = x.newest
        if len(page.records) < x.page_size:
            return
        highest = max(_numbers(page, field_name), default=None)
        if highest is None or highest <= offset:
            raise MalformedResponse(
                x.endpoint.path,
                page=number,
                problem=f"a full page whose {field_name} does not pass offset {offset}",
            )
        offset = highest


def _numbers(page: Page, field_name: str) -> Iterable[int]:
    for record in page.records:
        value = record.get(field_name)
        if isinstance(value, int) and not isinstance(value, bool):
            yield value


def _unordered(x: Extraction) -> Iterator[Page]:
    asked = x.page_size
    first = x.fetch(1)
    x.start(first)
    _guard(x, first, asked, None)
    yield x.emit(first)
    pagination = first.pagination
    if pagination is not None:
        x.stats.page_count = pagination.page_count
        x.stats.expected_records = pagination.item_count
        x.exact_count = pagination.page_count <= 1
        previous = first
        for page in prefetch(x, range(2, pagination.page_count + 1)):
            _guard(x, page, asked, previous)
            yield x.emit(page)
            previous = page
        return
    # No pagination object: a short page is the last one.
    previous, number = first, 1
    while len(previous.records) >= asked:
        number += 1
        page = x.fetch(number)
        _guard(x, page, asked, previous)
        yield x.emit(page)
        previous = page

"""One lazy, single-use extraction: fetch a page, filter what it yields, account for it.

How the pages are chosen (and why nothing is lost) is in xero/paging.py; the
cursor rules in xero/cursor.py. Bookkeeping runs on the consumer's thread only;
fetches may run on the prefetch workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from oauth_etl.xero import cursor, paging
from oauth_etl.xero.catalog import UPDATED, Endpoint, Paging
from oauth_etl.xero.dates import if_modified_since_header, to_cursor
from oauth_etl.xero.envelope import Page, Record, parse_page, stamp_of
from oauth_etl.xero.errors import DayLimitReached
from oauth_etl.xero.http import ApiRequest, Counters
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.types import ExtractionStats, Progress
from oauth_etl.xero.window import Seen

if TYPE_CHECKING:
    from oauth_etl.xero.client import XeroClient

ACCOUNTING_PREFIX = "/api.xro/2.0/"
TENANT_HEADER = "xero-tenant-id"
# `page`-only endpoints and Journals return up to 100 per call (spec: getQuotes `page`,
# getLinkedTransactions `page`; developer.xero.com/documentation/api/accounting/journals).
SMALL_PAGE = 100


class Extraction:
    """A lazy, single-use extraction of one endpoint for one tenant.

    Iterate it (or `records()`) for record dicts, or `pages()` for `Page`s, in
    page order. `stats` fills in as pages are yielded and is final once the
    iteration ends (normally, by an error, or by a day limit).
    """

    def __init__(
        self,
        client: XeroClient,
        endpoint: Endpoint,
        tenant_id: str,
        *,
        modified_since: datetime | None,
        budget: RateBudget,
        on_progress: Callable[[Progress], None] | None,
        start_offset: int | None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.tenant_id = tenant_id
        self.modified_since = modified_since if endpoint.incremental else None
        # Records stamped before the previous cursor have landed (xero/cursor.py). Only
        # where the stamp moves with every change; Journals resume by offset instead,
        # and a creation stamp (BankTransfers) says nothing about a later change.
        self.floor = (
            self.modified_since
            if endpoint.cursor_field == UPDATED and endpoint.paging is not Paging.OFFSET
            else None
        )
        self.budget = budget
        self._on_progress = on_progress
        self.start_offset = start_offset
        self.counters = Counters()
        self._consumed = False
        self.cancelled = threading.Event()
        self._clock_start = 0.0
        self.limit: datetime | None = None  # the run's horizon, from page 1's DateTimeUTC
        self.newest: datetime | None = None
        self.proven_below: datetime | None = None  # partial runs: all before it was read
        self.exact_count = False  # yielded == pagination.itemCount - already_landed
        self.seen: Seen | None = None
        self._max_offset: int | None = start_offset
        self.stats = ExtractionStats(
            endpoint=endpoint.name,
            tenant_id=tenant_id,
            cursor_from=to_cursor(modified_since) if modified_since else None,
            offset_from=start_offset,
        )

    def __repr__(self) -> str:
        return f"Extraction(endpoint={self.endpoint.name!r}, tenant_id={self.tenant_id!r})"

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def records(self) -> Generator[Record, None, None]:
        for page in self.pages():
            yield from page.records

    def pages(self) -> Generator[Page, None, None]:
        if self._consumed:
            raise RuntimeError(
                "an Extraction can be iterated once; call XeroClient.extract() again"
            )
        self._consumed = True
        return self._run()

    def _run(self) -> Generator[Page, None, None]:
        stats = self.stats
        stats.started_at = datetime.now().astimezone()
        self._clock_start = time.monotonic()
        try:
            yield from paging.read(self)
            stats.complete = True
        except DayLimitReached as exc:
            stats.stopped_early = True
            stats.stop_reason = str(exc)
        finally:
            self.cancelled.set()
            self._finish()

    # -- one page (any thread) ----------------------------------------------------------

    @property
    def page_size(self) -> int:
        return self.client.page_size if self.endpoint.paging is Paging.PAGE_SIZE else SMALL_PAGE

    def fetch(
        self,
        number: int,
        *,
        offset: int | None = None,
        since: datetime | None = None,
        page_size: int | None = None,
    ) -> Page:
        """Page `number` (or Journals after `offset`); `since` overrides the cursor's bound."""
        endpoint = self.endpoint
        if self.cancelled.is_set() and number > 1:
            raise RuntimeError("extraction cancelled")
        params = dict(endpoint.params)
        if endpoint.paging is Paging.PAGE_SIZE:
            params["page"] = str(number)
            params["pageSize"] = str(page_size or self.client.page_size)
        elif endpoint.paging is Paging.PAGE:
            params["page"] = str(number)
        elif endpoint.paging is Paging.OFFSET:
            params["offset"] = str(offset or 0)
        if endpoint.order and endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE):
            params["order"] = endpoint.order
        headers = {TENANT_HEADER: self.tenant_id}
        bound = since
        # Journals resume by JournalNumber alone: exactly once, no stamp involved.
        by_offset = endpoint.paging is Paging.OFFSET and bool(self.start_offset)
        if bound is None and self.modified_since is not None and not by_offset:
            bound = cursor.request_bound(self.modified_since)
        if bound is not None:
            headers["If-Modified-Since"] = if_modified_since_header(bound)
        reply = self.client.http.get(
            ApiRequest(
                f"{self.client.api_url}{ACCOUNTING_PREFIX}{endpoint.path}",
                label=endpoint.path,
                endpoint=endpoint,
                tenant_id=self.tenant_id,
                params=params,
                headers=headers,
                budget=self.budget,
                counters=self.counters,
            )
        )
        if reply.status == 304:  # nothing modified since
            return Page(number=number, records=[], pagination=None, server_time=None, warnings=[])
        return parse_page(
            reply.body,
            endpoint.record_key,
            endpoint=endpoint.path,
            page=number,
            correlation_id=reply.correlation_id,
        )

    # -- bookkeeping (consumer thread only) -----------------------------------------------

    def start(self, first: Page) -> None:
        """Page 1 sets the run's horizon from Xero's clock."""
        self.stats.first_page_seconds = round(time.monotonic() - self._clock_start, 3)
        self.limit = cursor.horizon(first.server_time, self.client.clock_margin)

    def emit(self, page: Page, *, moving: bool = False) -> Page:
        """The page with only the records to land; counts what it leaves out and why.

        `moving`: a page read after page 1, where a record saved meanwhile (stamped after
        the horizon) may already have been yielded from its old place in any page.
        """
        stats = self.stats
        cursor_field = self.endpoint.cursor_field
        offset_field = self.endpoint.offset_field
        id_field = self.endpoint.id_field
        seen = self.seen
        kept: list[Record] = []
        for record in page.records:
            when = stamp_of(record, cursor_field)
            if cursor.already_landed(when, self.floor):
                stats.already_landed += 1
                continue
            late = moving and cursor.after_horizon(when, self.limit)
            if late:
                stats.changed += 1
            if seen is not None and id_field is not None:
                key = record.get(id_field)
                if key is not None and not seen.add(str(key), anywhere=late):
                    stats.duplicates += 1
                    continue
            if offset_field is not None:
                value = record.get(offset_field)
                if isinstance(value, int) and not isinstance(value, bool):
                    self._max_offset = max(value, self._max_offset or 0)
            if when is not None and (self.newest is None or when > self.newest):
                self.newest = when
            kept.append(record)
        if seen is not None:
            seen.next_page()
        stats.pages += 1
        stats.records += len(kept)
        self.sync_counters()
        stats.offset_to = self._max_offset
        self._report(done=False)
        # Paging decisions use the page as fetched; consumers get the records to land.
        return page if len(kept) == len(page.records) else replace(page, records=kept)

    def sync_counters(self) -> None:
        self.stats.api_calls = self.counters.calls
        self.stats.retries = self.counters.retries
        self.stats.rate_limited = self.counters.rate_limited

    def _finish(self) -> None:
        stats = self.stats
        endpoint = self.endpoint
        self.sync_counters()
        stats.duration_seconds = round(time.monotonic() - self._clock_start, 3)
        stats.headroom = self.budget.snapshot()
        if not self.exact_count:
            stats.expected_records = None
        final = cursor.next_cursor(
            self.modified_since,
            complete=stats.complete,
            proven_below=self.proven_below,
            newest=self.newest,
            limit=self.limit,
            stamps_track_changes=endpoint.cursor_field == UPDATED
            or endpoint.paging is Paging.OFFSET,  # journals never change
        )
        stats.cursor_to = to_cursor(final) if final is not None else None
        self._report(done=True)

    def _report(self, *, done: bool) -> None:
        if self._on_progress is None:
            return
        stats = self.stats
        self._on_progress(
            Progress(
                endpoint=self.endpoint.name,
                tenant_id=self.tenant_id,
                pages=stats.pages,
                records=stats.records,
                pages_total=stats.page_count,
                records_total=stats.expected_records,
                api_calls=stats.api_calls,
                elapsed_seconds=round(time.monotonic() - self._clock_start, 3),
                done=done,
            )
        )

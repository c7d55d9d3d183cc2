"""The cursor rules (xero/cursor.py), without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from oauth_etl.xero import cursor

T = datetime(2026, 12, 2, 6, 0, 0, 250_000, tzinfo=UTC)
WHOLE = datetime(2026, 12, 2, 6, 0, 0, tzinfo=UTC)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
maybe = st.one_of(st.none(), stamps)


def test_request_bound_is_whole_seconds_and_strictly_earlier() -> None:
    assert cursor.request_bound(T) == WHOLE
    # On a whole second the bound steps back one, so `>` still returns the cursor's record.
    assert cursor.request_bound(WHOLE) == WHOLE - timedelta(seconds=1)


@given(stamps)
def test_request_bound_property(at: datetime) -> None:
    bound = cursor.request_bound(at)
    assert bound.microsecond == 0 and bound < at <= bound + timedelta(seconds=1)


def test_a_record_stamped_at_the_cursor_is_never_dropped() -> None:
    assert not cursor.already_landed(T, T)
    assert cursor.already_landed(T - timedelta(microseconds=1), T)
    assert not cursor.already_landed(None, T) and not cursor.already_landed(T, None)


def test_horizon_and_after_horizon() -> None:
    assert cursor.horizon(None) is None
    limit = cursor.horizon(T)
    assert limit == T - cursor.CLOCK_MARGIN
    assert limit is not None and cursor.after_horizon(limit + timedelta(microseconds=1), limit)
    assert not cursor.after_horizon(limit, limit) and not cursor.after_horizon(T, None)


def test_covers_needs_a_strictly_later_stamp() -> None:
    assert cursor.covers(T + timedelta(microseconds=1), T)
    assert not cursor.covers(T, T) and not cursor.covers(None, T)


def test_complete_runs_advance_to_the_newest_below_the_horizon() -> None:
    limit = T
    newest = T - timedelta(hours=1)
    # Just past the newest stamp read: its ties were read too, the next run skips them.
    got = cursor.next_cursor(None, complete=True, proven_below=None, newest=newest, limit=limit)
    assert got == newest + timedelta(microseconds=1)
    assert cursor.already_landed(newest, got)
    later = T + timedelta(hours=1)
    assert (
        cursor.next_cursor(None, complete=True, proven_below=None, newest=later, limit=limit)
        == limit
    )
    # Only a creation stamp (BankTransfers): the horizon itself.
    got = cursor.next_cursor(
        None,
        complete=True,
        proven_below=None,
        newest=newest,
        limit=limit,
        stamps_track_changes=False,
    )
    assert got == limit


def test_partial_runs_advance_only_to_what_is_proven() -> None:
    proven = T - timedelta(days=1)
    got = cursor.next_cursor(None, complete=False, proven_below=proven, newest=T, limit=T)
    assert got == proven
    assert (
        cursor.next_cursor(proven, complete=False, proven_below=None, newest=T, limit=T) == proven
    )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(maybe, st.booleans(), maybe, maybe, maybe, st.booleans())
def test_next_cursor_never_moves_back_nor_past_the_horizon(
    previous: datetime | None,
    complete: bool,
    proven: datetime | None,
    newest: datetime | None,
    limit: datetime | None,
    tracks: bool,
) -> None:
    got = cursor.next_cursor(
        previous,
        complete=complete,
        proven_below=proven,
        newest=newest,
        limit=limit,
        stamps_track_changes=tracks,
    )
    if previous is not None:
        assert got is not None and got >= previous
    if got is not None and got != previous and limit is not None:
        assert got <= limit
    if not complete and got != previous:
        assert proven is not None and got is not None and got <= proven

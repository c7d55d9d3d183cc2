"""Cursor arithmetic, pure: what a run may skip as landed, and how far its cursor may advance.

The cursor `c` a run saves means: every record whose version at the start of that
run was stamped before `c` has landed (in that version or a newer one). Three
rules keep that true:

- `request_bound(c)`: the If-Modified-Since sent for `c` is whole seconds (Xero's
  format) and strictly earlier than `c`, so a record stamped exactly `c` comes back
  whether Xero compares with `>` or `>=` (the spec says only "modified since").
- `already_landed(stamp, c)`: a returned record stamped before `c` is dropped. It
  cannot have changed since the run that saved `c` (a change then would stamp it
  after that run's horizon, and `c` never passes the horizon), so its current
  version is one that landed. A record stamped exactly `c` is kept: at-least-once.
- `next_cursor(...)`: the cursor advances only to a stamp below which the run has
  proven it read everything (a complete run: just past the newest stamp it read; Xero
  stamps in milliseconds, so nothing lies between), never past the run's `horizon`
  (Xero's clock at page 1, minus `CLOCK_MARGIN`), and never backwards. Records stamped
  after the horizon may have changed during the run; the next run reads them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Between a record's stamp and the envelope's DateTimeUTC a save can be in flight
# (stamped, not yet visible to our read). Xero documents no bound; 5 s is our
# assumption, and costs only a re-read of the last 5 s before a run on the next one.
CLOCK_MARGIN = timedelta(seconds=5)
_TICK = timedelta(microseconds=1)


def request_bound(cursor: datetime) -> datetime:
    """If-Modified-Since for `cursor`: whole seconds, strictly before the cursor."""
    earlier = cursor - _TICK
    return earlier.replace(microsecond=0)


def horizon(server_start: datetime | None, margin: timedelta = CLOCK_MARGIN) -> datetime | None:
    """Newest stamp this run may treat as settled (None: Xero sent no DateTimeUTC)."""
    return server_start - margin if server_start is not None else None


def already_landed(stamp: datetime | None, cursor: datetime | None) -> bool:
    """Dropped as landed by an earlier run: strictly older than that run's cursor."""
    return stamp is not None and cursor is not None and stamp < cursor


def after_horizon(stamp: datetime | None, limit: datetime | None) -> bool:
    """Saved after the run's horizon: it may have moved while we read (and may again)."""
    return stamp is not None and limit is not None and stamp > limit


def covers(last_stamp: datetime | None, target: datetime) -> bool:
    """A keyset page ending at `last_stamp` holds every record stamped up to `target`.

    Ties at `target` may continue on the next page, so it takes a strictly later stamp.
    """
    return last_stamp is not None and last_stamp > target


def next_cursor(
    previous: datetime | None,
    *,
    complete: bool,
    proven_below: datetime | None,
    newest: datetime | None,
    limit: datetime | None,
    stamps_track_changes: bool = True,
) -> datetime | None:
    """The cursor to save after a run.

    complete: every record of the filtered set at run start was read.
    proven_below: for a partial run, everything stamped before it was read.
    newest: the newest stamp landed. limit: the run's horizon.
    stamps_track_changes: False where records carry only a creation stamp
    (BankTransfers): a complete run then advances to the horizon itself.
    """
    candidate = proven_below
    if complete and stamps_track_changes:
        # Everything stamped up to `newest` was read, ties included: the next run skips them.
        candidate = newest + _TICK if newest is not None else None
    elif complete:
        candidate = limit or newest
    if candidate is not None and limit is not None:
        candidate = min(candidate, limit)
    if candidate is None:
        return previous
    if previous is not None:
        candidate = max(candidate, previous)
    return candidate

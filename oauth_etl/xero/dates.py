"""Xero's date formats, If-Modified-Since values and our cursor strings.

Xero's JSON dates are .NET style: `/Date(1439434356790)/` or
`/Date(1419937200000+1300)/`, milliseconds since the Unix epoch (an instant in
UTC); the optional `+HHMM` says which offset the value was displayed in and does
not move the instant. Some fields (and the `…String` twins) are ISO 8601
without an offset, which Xero means as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DOTNET = re.compile(r"^/Date\((?P<ms>-?\d{1,15})(?P<offset>[+-]\d{4})?\)/$")


def parse_xero_datetime(value: str) -> datetime:
    """A UTC-aware datetime from a Xero date string (.NET `/Date(...)/` or ISO 8601)."""
    if not isinstance(value, str):
        raise ValueError(f"not a Xero date: expected a string, got {type(value).__name__}")
    text = value.strip()
    try:
        return _parse(text)
    except OverflowError:
        raise ValueError(f"not a Xero date: {value[:60]!r} is out of range") from None
    except ValueError:
        raise ValueError(
            f"not a Xero date: {value[:60]!r} (expected /Date(ms)/, /Date(ms+HHMM)/ or ISO 8601)"
        ) from None


def stamp_or_none(value: str) -> datetime | None:
    """`parse_xero_datetime`, or None where it raises: read for every record, so the
    .NET form (all of the Accounting API's stamps) takes the shortest path."""
    match = _DOTNET.match(value)
    if match is not None:
        try:
            return _from_ms(int(match.group("ms")))
        except OverflowError:
            return None
    try:
        return parse_xero_datetime(value)
    except ValueError:
        return None


def _from_ms(ms: int) -> datetime:
    # Integer milliseconds: exact, unlike a float division; positional arguments, because
    # timedelta's keyword path costs a third more per call.
    return _EPOCH + timedelta(0, ms // 1000, ms % 1000 * 1000)


def _parse(text: str) -> datetime:
    match = _DOTNET.match(text)
    if match is not None:
        return _from_ms(int(match.group("ms")))
    if text.startswith("/Date("):
        raise ValueError("malformed .NET date")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        # A naive datetime here is a programming error waiting to happen: treat it
        # as UTC (Xero's convention) rather than the machine's local time.
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_http_date(dt: datetime) -> str:
    """RFC 7231 HTTP-date, e.g. `Thu, 06 Feb 2020 12:17:43 GMT`."""
    return format_datetime(_as_utc(dt).replace(microsecond=0), usegmt=True)


def if_modified_since_header(dt: datetime) -> str:
    """The If-Modified-Since value Xero documents: ISO 8601 UTC, whole seconds.

    Truncating to the second moves the bound earlier, never later, so a record
    updated in the same second as the cursor is fetched again rather than missed
    (at-least-once; consumers dedupe on the endpoint's id field).
    """
    return _as_utc(dt).replace(microsecond=0, tzinfo=None).isoformat()


def to_cursor(dt: datetime) -> str:
    """A lossless, sortable cursor string: ISO 8601 UTC with microseconds and `Z`."""
    # isoformat pads the year to four digits (strftime's %Y does not before 1000).
    return _as_utc(dt).isoformat(timespec="microseconds").replace("+00:00", "Z")


def from_cursor(value: str) -> datetime:
    """Inverse of `to_cursor`; also accepts any ISO 8601 value (naive = UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise ValueError(
            f"not a cursor: {value!r} (expected ISO 8601, e.g. 2024-01-31T00:00:00Z)"
        ) from None
    return _as_utc(parsed)

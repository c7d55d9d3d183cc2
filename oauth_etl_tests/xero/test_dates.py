"""Xero date parsing, If-Modified-Since values and cursor strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauth_etl.xero.dates import (
    format_http_date,
    from_cursor,
    if_modified_since_header,
    parse_xero_datetime,
    to_cursor,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(1439434356790)/", datetime(2015, 8, 13, 2, 52, 36, 790000, tzinfo=UTC)),
        # The offset says how it was displayed; the milliseconds are the UTC instant.
        ("/Date(1419937200000+1300)/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),
        ("/Date(1419937200000-0500)/", datetime(2014, 12, 30, 11, 0, tzinfo=UTC)),
        ("/Date(-1000)/", datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2019-07-10T00:00:00", datetime(2019, 7, 10, tzinfo=UTC)),
        ("2019-07-09T23:40:30.1833130", datetime(2019, 7, 9, 23, 40, 30, 183313, tzinfo=UTC)),
        ("2020-02-06T12:17:43.202-08:00", datetime(2020, 2, 6, 20, 17, 43, 202000, tzinfo=UTC)),
        ("2020-02-06T12:17:43Z", datetime(2020, 2, 6, 12, 17, 43, tzinfo=UTC)),
    ],
)
def test_parses_dotnet_and_iso_forms_to_utc(text: str, expected: datetime) -> None:
    parsed = parse_xero_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "/Date(abc)/", "/Date(123", "Date(123)", "/Date(1+13)/", "12/31/2020"]
)
def test_rejects_anything_else_with_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a Xero date"):
        parse_xero_datetime(text)


def test_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="expected a string"):
        parse_xero_datetime(1439434356790)  # type: ignore[arg-type]


def test_if_modified_since_is_utc_iso_truncated_to_the_second() -> None:
    dt = datetime(2020, 2, 6, 4, 17, 43, 999999, tzinfo=timezone(timedelta(hours=-8)))
    assert if_modified_since_header(dt) == "2020-02-06T12:17:43"
    assert format_http_date(dt) == "Thu, 06 Feb 2020 12:17:43 GMT"


def test_cursor_format_and_naive_means_utc() -> None:
    dt = datetime(2024, 5, 1, 10, 0, 0, 5, tzinfo=UTC)
    assert to_cursor(dt) == "2024-05-01T10:00:00.000005Z"
    assert from_cursor("2024-05-01T10:00:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a cursor"):
        from_cursor("soon")


aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))


@given(aware, offsets)
def test_cursor_round_trips_in_any_zone(dt: datetime, offset: timedelta) -> None:
    local = dt.astimezone(timezone(offset))
    text = to_cursor(local)
    assert from_cursor(text) == dt
    assert from_cursor(text).utcoffset() == timedelta(0)


@given(st.integers(min_value=-(10**12), max_value=10**13), st.integers(-1400, 1400))
def test_dotnet_milliseconds_are_exact_whatever_the_offset(ms: int, hhmm: int) -> None:
    sign = "+" if hhmm >= 0 else "-"
    text = f"/Date({ms}{sign}{abs(hhmm):04d})/"
    parsed = parse_xero_datetime(text)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert (parsed - epoch) // timedelta(milliseconds=1) == ms
    assert parse_xero_datetime(f"/Date({ms})/") == parsed


@given(aware)
def test_iso_and_dotnet_agree(dt: datetime) -> None:
    dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    ms = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_xero_datetime(f"/Date({ms})/") == dt
    assert parse_xero_datetime(dt.replace(tzinfo=None).isoformat()) == dt
    assert parse_xero_datetime(if_modified_since_header(dt)) <= dt

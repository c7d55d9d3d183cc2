"""The per-record stamp path gives exactly what `parse_xero_datetime` gives, or None where
it raises: the fast path for .NET dates changes speed, never an answer."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauth_etl.xero.dates import parse_xero_datetime, stamp_or_none


def slow(value: str) -> object:
    try:
        return parse_xero_datetime(value)
    except ValueError:
        return None


@pytest.mark.parametrize(
    "value",
    [
        "/Date(1439434356790)/",
        "/Date(1419937200000+1300)/",
        "/Date(-1001)/",
        "/Date(0)/",
        "/Date(999999999999999)/",  # beyond year 9999
        "/Date(-999999999999999)/",
        "/Date(123)/\n",
        " /Date(5)/",
        "/Date(1)",
        "/Date(x)/",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.123456+05:00",
        "",
        "junk",
    ],
)
def test_known_forms_agree(value: str) -> None:
    assert stamp_or_none(value) == slow(value)


@given(
    st.one_of(
        st.integers(-(10**15), 10**15).map(lambda ms: f"/Date({ms})/"),
        st.tuples(st.integers(-(10**13), 10**13), st.sampled_from(["+0000", "-0530", "+1300"])).map(
            lambda t: f"/Date({t[0]}{t[1]})/"
        ),
        st.text(max_size=30),
    )
)
def test_any_string_agrees(value: str) -> None:
    assert stamp_or_none(value) == slow(value)

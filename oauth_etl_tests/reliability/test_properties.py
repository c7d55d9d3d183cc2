"""Property and fuzz tests for the parsers that meet outside input (issue #8).

Each parser has one contract for bad input: its own error type, never another exception.
- Xero dates (`parse_xero_datetime`): a UTC datetime or `ValueError`.
- Xero envelopes (`parse_page`): a `Page` or `MalformedResponse`.
- Token endpoint answers (`TokenSet.from_token_response`): a `TokenSet` or
  `TokenEndpointError`, and no token text in the error.
- Batch manifests (`Manifest.from_json`): a `Manifest` or `ManifestError`; round trip.

oauth_etl_tests/xero/test_dates.py already covers cursor round trips in any zone,
/Date(ms±HHMM)/ for ms in ±10^12..10^13 and ISO/.NET agreement; this module extends to the
whole datetime range and to garbage. The contract breaks it once found (out-of-range dates
and `expires_in` escaping as OverflowError/ValueError, cursors before year 1000, an
unsanitized token_type, manifest timestamps overflowing) are fixed; each keeps a named
regression test below, and the properties run over the full input ranges.

Example counts are bounded and derandomized: the module runs in seconds and never flakes.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from oauth_etl.oauth.errors import TokenEndpointError
from oauth_etl.oauth.tokens import MAX_EXPIRES_IN, TokenSet
from oauth_etl.storage.errors import ManifestError
from oauth_etl.storage.manifest import Manifest, ManifestPart, part_name, utc_iso
from oauth_etl.xero.dates import from_cursor, parse_xero_datetime, to_cursor
from oauth_etl.xero.envelope import Page, parse_page
from oauth_etl.xero.errors import MalformedResponse
from oauth_etl_tests.reliability.faults_log import record

FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
# The millisecond range a Python datetime can hold (years 1..9999).
MIN_MS = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // MS
MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - EPOCH) // MS


class Tally:
    """Outcomes per parser, for one honest fault-table row each at the end of the module."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}

    def add(self, parser: str, outcome: str) -> None:
        self.counts.setdefault(parser, Counter())[outcome] += 1


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _record_fault_rows() -> Iterator[None]:
    yield
    for parser, counts in sorted(TALLY.counts.items()):
        outcome = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        record(
            f"fuzzed input: {parser}",
            trials=sum(counts.values()),
            outcome=f"{outcome}; no other exception",
            lost="none",
        )


# -- shared strategies -----------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)


# -- Xero dates ------------------------------------------------------------------------------
offsets_hhmm = st.integers(min_value=0, max_value=9999).map(lambda v: f"{v:04d}")


@FAST
@given(
    st.integers(min_value=MIN_MS, max_value=MAX_MS),
    st.one_of(st.just(""), st.tuples(st.sampled_from("+-"), offsets_hhmm).map("".join)),
)
def test_dotnet_millis_round_trip_over_the_whole_datetime_range(ms: int, offset: str) -> None:
    parsed = parse_xero_datetime(f"/Date({ms}{offset})/")
    assert parsed.utcoffset() == timedelta(0)
    assert (parsed - EPOCH) // MS == ms  # the offset never moves the instant
    assert from_cursor(to_cursor(parsed)) == parsed  # years before 1000 included


def test_cursor_of_dotnet_min_value_round_trips() -> None:
    parsed = parse_xero_datetime(f"/Date({MIN_MS})/")  # 0001-01-01, .NET DateTime.MinValue
    cursor = to_cursor(parsed)
    assert cursor == "0001-01-01T00:00:00.000000Z"  # zero-padded year, sortable
    assert from_cursor(cursor) == parsed


dotnet_like = st.builds(
    lambda ms, offset, junk: f"/Date({ms}{offset})/{junk}",
    st.one_of(st.integers(min_value=MIN_MS, max_value=MAX_MS).map(str), st.text(max_size=6)),
    st.one_of(
        st.just(""),
        st.from_regex(r"[+-]\d{1,6}", fullmatch=True),
        st.text(max_size=4),
    ),
    st.one_of(st.just(""), st.text(max_size=3)),
)
iso_like = st.builds(
    lambda dt, sep, tail: dt.isoformat(sep=sep)[: len(dt.isoformat()) - tail],
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),  # years 1..9999
    st.sampled_from("T t"),
    st.integers(min_value=0, max_value=12),
)


@FAST
@given(st.one_of(st.text(max_size=40), dotnet_like, iso_like))
def test_any_text_is_a_utc_datetime_or_a_value_error(text: str) -> None:
    try:
        parsed = parse_xero_datetime(text)
    except ValueError as exc:
        assert "not a Xero date" in str(exc)
        TALLY.add("dates", "typed error")
        return
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
    TALLY.add("dates", "parsed")


@FAST
@given(json_values)
def test_non_strings_are_a_value_error(value: Any) -> None:
    assume(not isinstance(value, str))
    with pytest.raises(ValueError, match="expected a string"):
        parse_xero_datetime(value)


OVERFLOWING_DATES = [
    "/Date(999999999999999)/",
    "/Date(-999999999999999)/",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
]


@pytest.mark.parametrize("text", OVERFLOWING_DATES)
def test_out_of_range_dates_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a Xero date: .* is out of range") as info:
        parse_xero_datetime(text)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no OverflowError


# -- Xero envelopes --------------------------------------------------------------------------
RECORD_KEY = "Invoices"
pagination_values = st.one_of(st.integers(min_value=0, max_value=10**6), json_values)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        RECORD_KEY: st.one_of(
            st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=3), max_size=4),
            json_values,
        ),
        "pagination": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    k: pagination_values for k in ("page", "pageSize", "pageCount", "itemCount")
                },
            ),
            json_values,
        ),
        "DateTimeUTC": st.one_of(dotnet_like, iso_like, json_values),
        "Warnings": json_values,
        "Id": json_values,
        "Status": json_values,
    },
)


def _parse(body: bytes) -> Page | MalformedResponse:
    try:
        page = parse_page(body, RECORD_KEY, endpoint="Invoices", page=3, correlation_id="corr-p")
    except MalformedResponse as exc:
        assert exc.endpoint == "Invoices" and exc.page == 3 and exc.correlation_id == "corr-p"
        assert "Invoices page 3" in str(exc) and "corr-p" in str(exc)
        TALLY.add("envelope", "MalformedResponse")
        return exc
    TALLY.add("envelope", "parsed")
    return page


@FAST
@given(st.one_of(envelopes, json_values))
def test_any_json_document_is_a_page_or_malformed_response(document: Any) -> None:
    outcome = _parse(orjson.dumps(document))
    if isinstance(outcome, Page):
        assert isinstance(document, dict)
        assert outcome.records == document[RECORD_KEY]
        assert all(isinstance(r, dict) for r in outcome.records)
        if outcome.pagination is not None:
            raw = document["pagination"]
            assert outcome.pagination.page_count == raw["pageCount"] >= 0
        if outcome.server_time is not None:
            assert outcome.server_time.utcoffset() == timedelta(0)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_are_a_page_or_malformed_response(body: bytes) -> None:
    _parse(body)


@FAST
@given(envelopes, st.integers(min_value=0, max_value=400))
def test_truncated_envelopes_are_malformed(document: dict[str, Any], cut: int) -> None:
    body = orjson.dumps(document)
    assume(0 < cut < len(body))
    outcome = _parse(body[:cut])
    # A strict prefix of a JSON object is never a JSON object.
    assert isinstance(outcome, MalformedResponse)


@pytest.mark.parametrize("text", OVERFLOWING_DATES)
def test_envelope_with_out_of_range_server_time_still_parses(text: str) -> None:
    # DateTimeUTC is informational: the page must parse whatever it holds.
    body = orjson.dumps({RECORD_KEY: [{"InvoiceID": "i1"}], "DateTimeUTC": text})
    page = parse_page(body, RECORD_KEY, endpoint="Invoices", page=1, correlation_id=None)
    assert page.records == [{"InvoiceID": "i1"}] and page.server_time is None


# -- token endpoint answers ------------------------------------------------------------------
# 16+ characters: what sanitize() treats as token-like (real Xero tokens are long JWTs).
token_text = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=13).map(
    lambda s: f"TOK{s}"
)
expires = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**9),
    st.integers(),  # any size, up to ints no float can hold
    st.integers(min_value=2**1000).map(lambda n: n * 10**100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.from_regex(r"\s*[0-9]{1,9}\s*", fullmatch=True),
    # Unicode digits and decimals (², ٣, fullwidth) around any whitespace or control character.
    st.text(alphabet=st.characters(categories=["Nd", "No", "Zs", "Cc"]), min_size=1, max_size=12),
    json_values,
)


payloads = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.one_of(token_text, json_values),
        "refresh_token": st.one_of(token_text, json_values),
        "expires_in": expires,
        "token_type": st.one_of(
            st.sampled_from(["Bearer", "bearer", "MAC", ""]), token_text, json_values
        ),
        "scope": json_values,
        "id_token": token_text,
    },
)


def _previous() -> TokenSet:
    return TokenSet(
        access_token="TOKprevious-access-000000",
        refresh_token="TOKprevious-refresh-00000",
        expires_at=100.0,
        scope="offline_access",
        token_type="Bearer",
        obtained_at=50.0,
        refresh_token_issued_at=50.0,
    )


@FAST
@given(payloads, st.booleans())
def test_any_token_answer_is_a_token_set_or_endpoint_error(
    payload: dict[str, Any], with_previous: bool
) -> None:
    previous = _previous() if with_previous else None
    now = 1_000.0
    try:
        tokens = TokenSet.from_token_response(payload, now, previous)
    except TokenEndpointError as exc:
        text = str(exc)
        for value in payload.values():
            if isinstance(value, str) and value.startswith("TOK"):
                assert value not in text
        assert "TOKprevious" not in text
        TALLY.add("token response", "TokenEndpointError")
        return
    TALLY.add("token response", "parsed")
    assert tokens.access_token == payload["access_token"] and tokens.access_token
    assert now < tokens.expires_at <= now + MAX_EXPIRES_IN
    assert tokens.token_type.lower() == "bearer"
    if "refresh_token" in payload and payload["refresh_token"] is not None:
        assert tokens.refresh_token == payload["refresh_token"]
    elif previous is not None:
        assert tokens.refresh_token == previous.refresh_token  # RFC 6749 §6: keep it
    for text in (repr(tokens), str(tokens)):
        assert tokens.access_token not in text


@pytest.mark.parametrize(
    "expires_in",
    ["²", "0\x1f", 10**400, -(10**400), MAX_EXPIRES_IN + 1, 1e300, "9" * 30],
    ids=["sup2", "unit-sep", "1e400", "-1e400", "over-a-year", "1e300", "digits30"],
)
def test_odd_expires_in_is_a_token_endpoint_error(expires_in: object) -> None:
    payload = {"access_token": "TOKaccess-0000000000", "expires_in": expires_in}
    with pytest.raises(TokenEndpointError, match="'expires_in' is not a positive number") as info:
        TokenSet.from_token_response(payload, 1_000.0, _previous())
    assert "TOKaccess" not in str(info.value) and "TOKprevious" not in str(info.value)


def test_expires_in_of_a_year_or_less_is_accepted() -> None:
    payload = {"access_token": "TOKaccess-0000000000", "expires_in": str(MAX_EXPIRES_IN)}
    tokens = TokenSet.from_token_response(payload, 1_000.0)
    assert tokens.expires_at == 1_000.0 + MAX_EXPIRES_IN


def test_token_type_echoing_a_token_is_not_quoted() -> None:
    secret = "TOKechoed-access-token-0123456789"
    payload = {"access_token": secret, "expires_in": 1800, "token_type": secret}
    with pytest.raises(TokenEndpointError) as info:
        TokenSet.from_token_response(payload, 1_000.0)
    assert secret not in str(info.value) and "Bearer only" in str(info.value)


# -- batch manifests -------------------------------------------------------------------------
segments = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._=-]{0,20}", fullmatch=True).filter(
    lambda s: ".." not in s
)
counts = st.integers(min_value=0, max_value=2**62)
sha256s = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    n = draw(st.integers(min_value=0, max_value=4))
    parts = tuple(
        ManifestPart(
            name=part_name(i),
            records=draw(st.integers(min_value=0, max_value=10**9)),
            bytes=draw(counts),
            uncompressed_bytes=draw(counts),
            sha256=draw(sha256s),
        )
        for i in range(n)
    )
    when = draw(st.datetimes())  # years 1..9999
    return Manifest(
        source=draw(segments),
        endpoint=draw(segments),
        tenant_id=draw(segments),
        batch_id=draw(segments),
        run_id=draw(st.text(max_size=20)),
        extracted_at=utc_iso(when.replace(tzinfo=UTC)),
        cursor_from=draw(st.one_of(st.none(), st.text(max_size=30))),
        cursor_to=draw(st.one_of(st.none(), st.text(max_size=30))),
        record_count=sum(p.records for p in parts),
        api_calls=draw(counts),
        pages=draw(counts),
        complete=draw(st.booleans()),
        parts=parts,
        expected_records=draw(st.one_of(st.none(), counts)),
        extra=draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)),
    )


@FAST
@given(manifests())
def test_manifest_round_trips(manifest: Manifest) -> None:
    body = manifest.to_json()
    again = Manifest.from_json(body, where="blob m")
    assert again == manifest
    assert again.to_json() == body


def _from_json_or_error(body: bytes) -> Manifest | ManifestError:
    try:
        manifest = Manifest.from_json(body, where="blob fuzz/_manifest.json")
    except ManifestError as exc:
        assert "blob fuzz/_manifest.json" in str(exc)
        TALLY.add("manifest", "ManifestError")
        return exc
    TALLY.add("manifest", "parsed")
    return manifest


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_are_a_manifest_or_manifest_error(body: bytes) -> None:
    outcome = _from_json_or_error(body)
    assert isinstance(outcome, ManifestError)  # random bytes are never a valid manifest


@st.composite
def mutated_manifests(draw: st.DrawFn) -> bytes:
    document: dict[str, Any] = orjson.loads(draw(manifests()).to_json())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["replace", "delete", "add", "part", "cut"]))
        keys = sorted(document)
        if action == "replace" and keys:
            document[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "delete" and keys:
            del document[draw(st.sampled_from(keys))]
        elif action == "add":
            document[draw(st.text(max_size=8))] = draw(json_values)
        elif action == "part" and isinstance(document.get("parts"), list) and document["parts"]:
            part = document["parts"][draw(st.integers(0, len(document["parts"]) - 1))]
            if isinstance(part, dict) and part:
                part[draw(st.sampled_from(sorted(part)))] = draw(json_values)
        elif action == "cut":
            body = orjson.dumps(document)
            return body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]
    return orjson.dumps(document)


@FAST
@given(mutated_manifests())
def test_mutated_manifests_are_a_manifest_or_manifest_error(body: bytes) -> None:
    outcome = _from_json_or_error(body)
    if isinstance(outcome, Manifest):
        # Whatever was accepted is self-consistent and survives another round trip.
        assert outcome.record_count == sum(p.records for p in outcome.parts)
        assert Manifest.from_json(outcome.to_json()) == outcome


@pytest.mark.parametrize("text", OVERFLOWING_DATES[2:])
def test_manifest_with_out_of_range_timestamp_is_a_manifest_error(text: str) -> None:
    document = orjson.loads(
        Manifest(
            source="xero",
            endpoint="invoices",
            tenant_id="t1",
            batch_id="b1",
            run_id="r",
            extracted_at="2024-01-01T00:00:00.000Z",
            cursor_from=None,
            cursor_to=None,
            record_count=0,
            api_calls=0,
            pages=0,
            complete=True,
            parts=(),
        ).to_json()
    )
    document["extracted_at"] = text
    with pytest.raises(ManifestError, match="blob m is not a valid batch manifest"):
        Manifest.from_json(orjson.dumps(document), where="blob m")

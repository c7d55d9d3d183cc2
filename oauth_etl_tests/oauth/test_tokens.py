from __future__ import annotations

import orjson
import pytest

from oauth_etl.oauth.errors import TokenEndpointError, TokenStoreError, sanitize
from oauth_etl.oauth.tokens import TokenSet, fingerprint_of

AT = "eyJhbGciOiJSUzI1NiJ9.access-token-value-1234567890"
RT = "refresh-token-value-abcdefghijklmnop"


def make(**overrides: object) -> TokenSet:
    values: dict[str, object] = {
        "access_token": AT,
        "refresh_token": RT,
        "expires_at": 2_000.0,
        "scope": "offline_access",
        "token_type": "Bearer",
        "obtained_at": 200.0,
        "refresh_token_issued_at": 200.0,
    }
    values.update(overrides)
    return TokenSet(**values)  # type: ignore[arg-type]


def test_repr_and_str_show_no_token() -> None:
    tokens = make()
    for text in (repr(tokens), str(tokens), f"{tokens}", repr([tokens])):
        assert AT not in text and RT not in text
        assert fingerprint_of(AT) in text


def test_json_round_trip() -> None:
    tokens = make()
    assert TokenSet.from_json(tokens.to_json()) == tokens
    assert orjson.loads(tokens.to_json())["refresh_token"] == RT


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"access_token": 5, "expires_at": 1, "obtained_at": 1}',
        b'{"access_token": "a", "obtained_at": 1}',
        b'{"expires_at": "soon", "obtained_at": 1}',
        b"\x00\xff garbage",
    ],
)
def test_from_json_rejects_corrupt_content_clearly(content: bytes) -> None:
    with pytest.raises(TokenStoreError) as info:
        TokenSet.from_json(content, source="token file X")
    assert "token file X" in str(info.value)


def test_access_valid_and_refresh_age() -> None:
    tokens = make(expires_at=1000.0, refresh_token_issued_at=100.0)
    assert tokens.access_valid(now=600.0, skew=300.0)
    assert not tokens.access_valid(now=700.0, skew=300.0)
    assert not tokens.access_valid(now=1000.0)
    assert not make(access_token=None).access_valid(0.0)
    assert tokens.refresh_token_age(400.0) == 300.0
    assert make(refresh_token_issued_at=None).refresh_token_age(400.0) is None


def test_fingerprint_distinguishes_sets() -> None:
    assert make().fingerprint() == make(expires_at=5.0).fingerprint()
    assert make().fingerprint() != make(refresh_token="other-refresh-token").fingerprint()
    assert RT not in make().fingerprint()


def test_from_token_response_full() -> None:
    payload = {
        "access_token": AT,
        "refresh_token": RT,
        "expires_in": 1800,
        "token_type": "Bearer",
        "scope": "a b",
    }
    tokens = TokenSet.from_token_response(payload, now=1000.0)
    assert tokens.expires_at == 2800.0
    assert tokens.refresh_token_issued_at == 1000.0
    assert tokens.scope == "a b"


def test_from_token_response_keeps_previous_refresh_token() -> None:
    previous = make(refresh_token_issued_at=50.0)
    tokens = TokenSet.from_token_response(
        {"access_token": "new", "expires_in": "60"}, 10.0, previous
    )
    assert tokens.refresh_token == RT
    assert tokens.refresh_token_issued_at == 50.0
    assert tokens.scope == previous.scope
    assert tokens.expires_at == 70.0


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"expires_in": 1800}, "access_token"),
        ({"access_token": AT}, "expires_in"),
        ({"access_token": 123, "expires_in": 1800}, "access_token"),
        ({"access_token": "", "expires_in": 1800}, "access_token"),
        ({"access_token": AT, "expires_in": "soon"}, "expires_in"),
        ({"access_token": AT, "expires_in": True}, "expires_in"),
        ({"access_token": AT, "expires_in": -5}, "expires_in"),
        ({"access_token": AT, "expires_in": float("nan")}, "expires_in"),
        ({"access_token": AT, "expires_in": 1800, "refresh_token": 7}, "refresh_token"),
        ({"access_token": AT, "expires_in": 1800, "scope": ["a"]}, "scope"),
        ({"access_token": AT, "expires_in": 1800, "token_type": "mac"}, "Bearer"),
    ],
)
def test_from_token_response_rejects_bad_fields(payload: dict[str, object], needle: str) -> None:
    with pytest.raises(TokenEndpointError) as info:
        TokenSet.from_token_response(payload, now=0.0)
    assert needle in str(info.value)
    assert AT not in str(info.value)


def test_sanitize_redacts_token_like_text() -> None:
    text = sanitize(f'{{"access_token": "{AT}", "note": "refresh {RT}"}}', limit=500)
    assert AT not in text and RT not in text
    assert "access-token-value" not in text
    assert len(sanitize("x " * 200)) <= 81

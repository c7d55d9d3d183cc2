"""What an error quotes of a value it was given: a URL without its user info or query, an
SDK message without a signature, the start of a long value. Each would otherwise carry a
secret or a pasted token into a terminal or a CI log."""

from __future__ import annotations

import pytest

from oauth_etl.app.contract import ConfigError
from oauth_etl.defs.commands import webserver_url
from oauth_etl.oauth.errors import TokenEndpointError
from oauth_etl.webhooks.queue import CONNECTION_STRING, _malformed

SECRET = "s3cr3tT0kenValue"


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{SECRET}@127.0.0.1:0/",  # port 0: refused
        f"ftp://127.0.0.1:3000/?token={SECRET}",
        f"http://:{SECRET}@/",
    ],
)
def test_a_refused_submit_url_is_quoted_without_user_info_or_query(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        webserver_url(url)
    assert SECRET not in str(refused.value)
    assert "is not the webserver's URL" in str(refused.value)


def test_a_submit_url_that_is_fine_is_kept_whole() -> None:
    parts = webserver_url(" http://127.0.0.1:3000/prefix ")
    assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", 3000, "/prefix")


def test_an_sdk_message_quoting_a_signature_is_redacted() -> None:
    # The storage SDK's own text for a bad endpoint quotes the parsed URL, query included.
    exc = ValueError(f"Invalid URL: ParseResult(scheme='https', query='sv=2020&sig={SECRET}')")
    said = _malformed(CONNECTION_STRING, exc, "AccountName=x;SharedAccessSignature=...")
    assert SECRET not in said and "sig=<redacted>" in said


def test_a_token_endpoint_error_keeps_no_raw_body() -> None:
    # A proxy's error page may echo the request back, refresh token included.
    body = f"<html>refresh_token={SECRET}&grant_type=refresh_token {'x' * 500}</html>".encode()
    error = TokenEndpointError("not JSON", 502, body)
    named = error.for_setting("XERO_IDENTITY_URL")
    for kept in (error, named):
        assert SECRET not in repr(vars(kept)) and SECRET not in str(kept)
    assert str(named) == str(error).replace("the token endpoint URL setting", "XERO_IDENTITY_URL")

"""`oauth-etl authorize` as a user runs it: scopes asked for, the redirect URI checked the
same way in every mode, a working token set replaced only when the user says so, and what
it prints (organisations, scopes, dates, the one token-set id every command shows)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oauth_etl.oauth.authorize import DEFAULT_REDIRECT_URI
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.cli.conftest import cli, secrets_in, store_of
from oauth_etl_tests.conftest import SandboxFactory


def test_authorize_asks_for_what_a_new_app_gets_and_opts_in_to_journals(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path
) -> None:
    new_app = sandbox_factory("--scopes", "new-app", "--tenants", "1", "--no-limits")
    env = local_environment(new_app.sandbox, azurite, tmp_path)
    # Asking for Journals fails the whole consent, as Xero does for an app without it.
    refused = cli(env, "authorize", "--unattended", "--with-journals")
    assert refused.returncode == 1 and "scope" in refused.stderr
    assert store_of(env).load() is None
    authorized = cli(env, "authorize", "--unattended")
    assert authorized.returncode == 0, authorized.stderr
    assert "not asked for (opt-in): expense_claims, journals, receipts" in authorized.stdout
    tokens = store_of(env).load()
    assert tokens is not None
    granted = set(tokens.scope.split())
    assert {"offline_access", "accounting.invoices.read"} <= granted
    assert not granted & {"accounting.journals.read", "accounting.classicexpenses.read"}


def test_authorize_sends_the_redirect_uri_registered_on_the_app(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path
) -> None:
    registered = "http://localhost:9412/oauth/callback"
    app = sandbox_factory("--redirect-uri", registered, "--tenants", "1", "--no-limits")
    env = local_environment(app.sandbox, azurite, tmp_path)
    unregistered = cli(env, "authorize", "--unattended")
    assert unregistered.returncode == 1 and "--redirect-uri" in unregistered.stderr
    given = cli(env, "authorize", "--unattended", "--redirect-uri", registered)
    assert given.returncode == 0, given.stderr
    configured = cli({**env, "XERO_REDIRECT_URI": registered}, "authorize", "--unattended", "--yes")
    assert configured.returncode == 0, configured.stderr


def test_authorize_help_names_the_default_redirect_uri() -> None:
    result = cli({}, "authorize", "--help")
    assert DEFAULT_REDIRECT_URI in result.stdout and "random" not in result.stdout
    assert "--with-journals" in result.stdout and "--with-classic-expenses" in result.stdout


@pytest.mark.parametrize(
    "mode", [("--no-browser",), ("--unattended",), ()], ids=["paste", "unattended", "browser"]
)
@pytest.mark.parametrize(
    "uri", ["notaurl", "http://example.com:9000/cb", "http://localhost:99999/cb", "https://x/#f"]
)
def test_a_bad_redirect_uri_is_refused_in_every_mode(
    env: dict[str, str], mode: tuple[str, ...], uri: str
) -> None:
    refused = cli(env, "authorize", "--redirect-uri", uri, *mode, stdin="\n", timeout=30)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: redirect URI") and "registered" in refused.stderr
    assert "identity/connect/authorize" not in refused.stdout  # no URL printed, no wait
    assert store_of(env).load() is None


def test_port_conflicting_with_a_redirect_uri_is_refused(env: dict[str, str]) -> None:
    given = cli(
        env, "authorize", "--unattended", "--port", "9001", "--redirect-uri", DEFAULT_REDIRECT_URI
    )
    assert given.returncode == 1 and "--port 9001 conflicts with --redirect-uri" in given.stderr
    configured = cli(
        {**env, "XERO_REDIRECT_URI": DEFAULT_REDIRECT_URI},
        "authorize",
        "--unattended",
        "--port",
        "9001",
    )
    assert configured.returncode == 1 and "XERO_REDIRECT_URI" in configured.stderr


def test_a_working_token_set_is_replaced_only_when_the_user_says_so(env: dict[str, str]) -> None:
    first = cli(env, "authorize", "--unattended")
    assert first.returncode == 0, first.stderr
    stored = store_of(env).load()
    assert stored is not None
    # What it prints: organisations, scopes granted, the expiry as a date, no repr, no epoch.
    assert "organisations (2):" in first.stdout and first.stdout.count("ORGANISATION") == 2
    assert "scopes granted (" in first.stdout and "accounting.invoices.read" in first.stdout
    assert f"token set {stored.fingerprint()}" in first.stdout
    assert re.search(r"expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", first.stdout)
    assert "TokenSet(" not in first.stdout and str(int(stored.expires_at)) not in first.stdout

    # The same id in `token status` and `doctor`.
    assert f"token set: {stored.fingerprint()}" in cli(env, "token", "status").stdout
    assert f"✔ token set: {stored.fingerprint()}" in cli(env, "doctor").stdout

    unattended = cli(env, "authorize", "--unattended")
    assert unattended.returncode == 1 and "--yes" in unattended.stderr
    piped = cli(env, "authorize", "--no-browser", stdin="y\n")  # not a terminal: never asks
    assert piped.returncode == 1 and "--yes" in piped.stderr
    assert store_of(env).load() == stored  # untouched

    replaced = cli(env, "authorize", "--unattended", "--yes")
    assert replaced.returncode == 0, replaced.stderr
    assert store_of(env).load() != stored
    for secret in secrets_in(env):
        assert secret not in first.stdout + unattended.stderr + replaced.stdout

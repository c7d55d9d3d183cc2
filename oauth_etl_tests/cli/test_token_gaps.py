"""The outside review's token and authorize gaps, each as a user meets it: a child process
on the sandbox and Azurite. Every error is one line saying what is wrong and the fix."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from oauth_etl.oauth.tokens import fingerprint_of
from oauth_etl_tests.cli.conftest import cli, secrets_in, store_of


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "unexpectedly" not in stderr and "Traceback" not in stderr
    return lines[0]


def test_a_corrupt_token_file_is_not_a_token_set_and_names_the_rescue_copy(
    env: dict[str, str],
) -> None:
    store = store_of(env)
    store.path.parent.mkdir(parents=True, exist_ok=True)
    for text in ("garbage", '{"a": 1}', "[1, 2]"):
        store.path.write_text(text)
        store.path.chmod(0o600)
        said = one_line_error(cli(env, "token", "status").stderr)
        assert f"token file {store.path} is not a token set" in said
        assert "no rescue copy: run `oauth-etl authorize`" in said
    rescue = store.path.parent / "token-rescue-20260101T000000Z-abc.json"
    rescue.write_text("{}")
    ensured = cli(env, "token", "ensure")
    said = one_line_error(ensured.stderr)
    assert f"`oauth-etl token restore {rescue}`" in said and "check access" not in said


def test_doctor_tells_a_corrupt_store_from_one_it_cannot_access(env: dict[str, str]) -> None:
    store = store_of(env)
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text("garbage")
    store.path.chmod(0o600)
    rescue = store.path.parent / "token-rescue-20260101T000000Z-abc.json"
    rescue.write_text("{}")
    said = cli(env, "doctor").stdout
    line = next(x for x in said.splitlines() if "token store" in x and "not a token set" in x)
    assert f"{store.path} is not a token set (not JSON" in line, said
    assert f"`oauth-etl token restore {rescue}`" in said and "access to" not in said


def test_an_unknown_scope_is_refused_before_the_browser(env: dict[str, str]) -> None:
    refused = cli(env, "authorize", "--no-browser", "--scopes", "offline_access bogus.scope")
    said = one_line_error(refused.stderr)
    assert "unknown scope 'bogus.scope'" in said and "oauth-etl list endpoints" in said
    assert "journals" not in said.lower() and "identity/connect" not in refused.stdout
    near = one_line_error(cli(env, "authorize", "--scopes", "accounting.invoice.read").stderr)
    assert "did you mean accounting.invoices.read" in near
    assert store_of(env).load() is None


def test_thousands_of_scopes_are_refused_with_the_reason(env: dict[str, str]) -> None:
    many = " ".join(f"accounting.scope{i}.read" for i in range(3000))
    said = one_line_error(cli(env, "authorize", "--unattended", "--scopes", many).stderr)
    assert "characters long" in said and "name each scope once" in said


def test_authorize_always_asks_for_offline_access(authorized: dict[str, str]) -> None:
    replaced = cli(
        authorized, "authorize", "--unattended", "--yes", "--scopes", "accounting.contacts.read"
    )
    assert replaced.returncode == 0, replaced.stderr
    assert "asking for offline_access too" in replaced.stdout
    tokens = store_of(authorized).load()
    assert tokens is not None and tokens.refresh_token is not None
    assert "offline_access" in tokens.scope.split()
    assert cli(authorized, "token", "refresh").returncode == 0  # it still refreshes


def test_a_directory_as_the_token_store_says_so(env: dict[str, str], tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    at_dir = {**env, "OAUTH_ETL_TOKEN_STORE": f"file:{directory}"}
    for command in (("token", "status"), ("token", "ensure"), ("list", "tenants")):
        said = one_line_error(cli(at_dir, *command).stderr)
        assert f"{directory} is a directory" in said and "OAUTH_ETL_TOKEN_STORE" in said
    # The catalog is still listed, and `allowed ?` says why the scopes are unknown.
    listed = cli(at_dir, "list", "endpoints")
    assert listed.returncode == 0 and "unexpectedly" not in listed.stderr
    why = listed.stdout.strip().splitlines()[-1]
    assert why.startswith("allowed ?: the token set could not be read: ") and "directory" in why


def test_an_unreachable_vault_is_named_and_quick(env: dict[str, str]) -> None:
    vault = {**env, "OAUTH_ETL_TOKEN_STORE": "keyvault:https://127.0.0.1:9/secret"}
    started = time.monotonic()
    status = cli(vault, "token", "status")
    elapsed = time.monotonic() - started
    said = one_line_error(status.stderr)
    assert "Key Vault at https://127.0.0.1:9 could not be reached" in said
    assert "connection refused" in said and "ServiceRequestError" not in said
    assert elapsed < 5.0, elapsed  # it took 5.3 s of retries before


def test_token_restore_says_what_its_argument_takes(
    authorized: dict[str, str], tmp_path: Path
) -> None:
    empty = one_line_error(cli(authorized, "token", "restore", "").stderr)
    assert "no rescue copy given" in empty and "file path or blob URL" in empty
    url = one_line_error(cli(authorized, "token", "restore", "https://x.invalid/c/a.json").stderr)
    assert "is a URL, but rescue copies are kept in directory" in url
    blob = {**authorized, "OAUTH_ETL_RESCUE_LOCATION": "blob:rescue-gaps"}
    status = cli(blob, "token", "status")
    base = next(ln for ln in status.stdout.splitlines() if ln.startswith("rescue copies"))
    missing = base.split("blobs ", 1)[1] + "token-rescue-none.json"
    gone = one_line_error(cli(blob, "token", "restore", missing).stderr)
    assert f"no rescue copy at {missing}" in gone and "holds none" in gone
    assert "ResourceNotFoundError" not in gone
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("not json")
    bad = one_line_error(cli(authorized, "token", "restore", str(corrupt)).stderr)
    assert f"rescue copy {corrupt} is not a token set" in bad
    assert "it cannot be restored: run `oauth-etl authorize`" in bad
    # A token pasted where a path belongs (`token import`'s input) is not echoed back.
    pasted = store_of(authorized).load()
    assert pasted is not None and pasted.refresh_token
    for text in (pasted.refresh_token, pasted.to_json().decode()):
        said = cli(authorized, "token", "restore", text)
        assert said.returncode != 0 and pasted.refresh_token not in said.stderr + said.stdout
        assert text[:40] not in said.stderr + said.stdout


def test_a_pasted_non_callback_is_not_called_forged(env: dict[str, str]) -> None:
    for garbage in ("garbage", "https://localhost:8765/callback", "hello world?x=1"):
        pasted = cli(env, "authorize", "--no-browser", stdin=garbage + "\n")
        said = one_line_error(pasted.stderr)
        assert "not the callback address" in said and "forged" not in said
        assert "starting with http://localhost:8765/callback?code=" in said
    wrong_state = "http://localhost:8765/callback?code=abc&state=other"
    forged = one_line_error(cli(env, "authorize", "--no-browser", stdin=wrong_state + "\n").stderr)
    assert "forged" in forged


def test_a_revoked_set_says_so_and_fails(authorized: dict[str, str]) -> None:
    assert cli(authorized, "token", "revoke", "--yes").returncode == 0
    status = cli(authorized, "token", "status")
    assert status.returncode == 1
    assert "was revoked on " in status.stdout and "run `oauth-etl authorize`" in status.stdout
    assert "offline_access granted" not in status.stdout
    ensured = one_line_error(cli(authorized, "token", "ensure").stderr)
    assert "was revoked on " in ensured


def test_invalid_grant_and_import_name_the_token_set_id(authorized: dict[str, str]) -> None:
    store = store_of(authorized)
    stored = store.load()
    assert stored is not None
    spent = replace(stored, refresh_token="spent-refresh-token", expires_at=0.0)
    store.save(spent)
    said = one_line_error(cli(authorized, "token", "ensure").stderr)
    assert f"token set {spent.fingerprint()}" in said
    assert fingerprint_of("spent-refresh-token") not in said
    imported = one_line_error(cli(authorized, "token", "import", stdin="no-such-token\n").stderr)
    assert fingerprint_of("no-such-token") not in imported and "was rejected" in imported
    for secret in secrets_in(authorized):
        assert secret not in said + imported

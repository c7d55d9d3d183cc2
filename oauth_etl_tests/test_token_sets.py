"""Several token sets (OAUTH_ETL_CONNECTIONS): names, where each set lives, which set
reads which tenant. The deployment of two Xero users on the sandbox:
test_token_sets_sandbox.py.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oauth_etl.app.connection import XeroConnection
from oauth_etl.app.contract import ConfigError, OAuthSettings
from oauth_etl.app.sets import lock_for, parse_names, settings_for, store_for
from oauth_etl.app.token_sets import SetView, Survey, TenantDirectory
from oauth_etl.doctor import check_settings
from oauth_etl.oauth.errors import AuthorizationRequired, TenantNotAuthorized
from oauth_etl.xero.types import Connection


# -- names and where each set lives ---------------------------------------------------------
def test_names_are_validated_with_a_message_that_says_what_to_do() -> None:
    assert parse_names(None) == () and parse_names(" ") == ()
    assert parse_names("acme, b2-group") == ("acme", "b2-group")
    for bad, said in (
        ("Acme", "lowercase"),
        ("a_b", "lowercase"),
        ("-a", "lowercase"),
        ("a,a", "twice"),
        ("default", "always there"),
    ):
        with pytest.raises(ConfigError, match=said) as raised:
            parse_names(bad)
        assert "OAUTH_ETL_CONNECTIONS" in str(raised.value)


def test_each_set_has_its_own_store_and_lock_beside_the_default_one() -> None:
    assert store_for("file:.oauth_etl/xero-token.json", "acme") == (
        "file:.oauth_etl/xero-token.acme.json"
    )
    assert store_for("file:~/t", "acme") == "file:~/t.acme"
    assert store_for("file:///srv/xero-token.json", "b") == "file:/srv/xero-token.b.json"
    assert store_for("keyvault:https://v.vault.azure.net/xero-token", "acme") == (
        "keyvault:https://v.vault.azure.net/xero-token-acme"
    )
    assert lock_for("locks/xero.lock", "acme") == "locks/xero.lock.acme"
    assert lock_for(None, "acme") is None
    with pytest.raises(ConfigError, match="127"):
        store_for(f"keyvault:https://v.vault.azure.net/{'x' * 120}", "acme-group")


def test_an_undeclared_set_names_the_variable_and_the_command(tmp_path: Path) -> None:
    settings = OAuthSettings(token_store=f"file:{tmp_path / 'xero-token.json'}", connections="a")
    with pytest.raises(ConfigError) as raised:
        settings_for(settings, "b")
    message = str(raised.value)
    assert "OAUTH_ETL_CONNECTIONS" in message and "declared now: a" in message
    assert "oauth-etl authorize --connection b" in message


def test_doctor_settings_refuse_a_bad_set_name_naming_the_variable(tmp_path: Path) -> None:
    env = {
        "XERO_CLIENT_ID": "cid",
        "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'xero-token.json'}",
        "OAUTH_ETL_CONNECTIONS": "acme,Bad Name",
    }
    result = check_settings(env)
    assert result.status == "fail" and "'Bad Name' is not a valid token set name" in result.detail
    assert "OAUTH_ETL_CONNECTIONS" in result.fix
    fine = check_settings({**env, "OAUTH_ETL_CONNECTIONS": "acme"})
    assert fine.status == "ok" and "token sets acme beside it" in fine.detail


def test_two_sets_never_share_a_store_or_a_lock(tmp_path: Path) -> None:
    settings = OAuthSettings(
        client_id="cid", token_store=f"file:{tmp_path / 'xero-token.json'}", connections="b"
    )
    root = XeroConnection(settings)
    try:
        assert root.set_names() == ("default", "b")
        default, named = root.token_manager(), root.for_set("b").token_manager()
        assert root.for_set("b") is root.for_set("b")
        assert default.store.describe() == f"file {tmp_path / 'xero-token.json'}"
        assert named.store.describe() == f"file {tmp_path / 'xero-token.b.json'}"
        assert default.lock.describe() != named.lock.describe()
        assert root.for_set("b").set_names() == ("b",)
    finally:
        root.close()


def org(tenant_id: str) -> Connection:
    return Connection(id="c-" + tenant_id, tenant_id=tenant_id, tenant_name=None,
                      tenant_type="ORGANISATION")  # fmt: skip


def test_a_tenant_is_read_with_the_first_set_that_sees_it_and_a_move_is_followed() -> None:
    surveys = [
        Survey((SetView("default", (org("t1"), org("t2"))), SetView("b", (org("t2"),)))),
        # Later: t3 was connected by b's user, and t2 left the default set for b.
        Survey((SetView("default", (org("t1"),)), SetView("b", (org("t2"), org("t3"))))),
    ]
    asked: list[int] = []

    def run_survey() -> Survey:
        asked.append(1)
        return surveys[min(len(asked), len(surveys)) - 1]

    directory = TenantDirectory(run_survey)
    assert directory.owner("t2") == "default" and directory.owner("t1") == "default"
    assert len(asked) == 1  # one survey for the directory's lifetime
    assert directory.owner("t3") == "b"  # unknown: surveyed once more, found
    assert len(asked) == 2
    with pytest.raises(TenantNotAuthorized, match="--connection NAME") as raised:
        directory.owner("t9")
    assert "asked: default, b" in str(raised.value)
    assert len(asked) == 3
    with pytest.raises(TenantNotAuthorized):
        directory.owner("t9")
    assert len(asked) == 3  # a tenant nobody sees is asked about once, not on every call
    # The fresh survey moved t2: the next lifetime (run) reads it with b.
    assert TenantDirectory(lambda: surveys[1]).owner("t2") == "b"


def test_a_set_that_cannot_answer_is_named_with_its_own_command() -> None:
    dead = AuthorizationRequired("the grant was revoked")
    found = Survey((SetView("default", (org("t1"),)), SetView("b", error=dead)))
    with pytest.raises(TenantNotAuthorized) as raised:
        TenantDirectory(lambda: found).owner("t2")
    assert "token set 'b' could not list its organisations" in str(raised.value)
    assert "run `oauth-etl authorize --connection b`" in str(raised.value)
    assert found.connections() == [org("t1")]


def test_threads_asking_at_once_share_one_connection_and_manager_per_set(tmp_path: Path) -> None:
    # A run's client threads ask for a set's token together: one manager (one in-process
    # cache and refresh lock) per set, and nothing opened that close() would miss.
    settings = OAuthSettings(
        client_id="cid", token_store=f"file:{tmp_path / 'xero-token.json'}", connections="b"
    )
    root = XeroConnection(settings)
    barrier = threading.Barrier(8)

    def ask() -> tuple[int, int]:
        barrier.wait()
        named = root.for_set("b")
        return id(named), id(named.token_manager())

    try:
        with ThreadPoolExecutor(8) as pool:
            seen = list(pool.map(lambda _: ask(), range(8)))
        assert len(set(seen)) == 1
    finally:
        root.close()

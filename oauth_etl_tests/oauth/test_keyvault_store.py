"""KeyVaultTokenStore against the real SecretClient talking to the in-process fake vault."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from oauth_etl.oauth.errors import TokenStoreError
from oauth_etl.oauth.locks import FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import (
    FileTokenStore,
    KeyVaultAccessError,
    KeyVaultTokenStore,
    StoreLocation,
    open_store,
    parse_store_uri,
    read_secret,
)
from oauth_etl_tests.oauth.fake_keyvault import (
    VAULT_URL,
    FakeKeyVaultTransport,
    fake_secret_client,
)
from oauth_etl_tests.oauth.test_manager import Env
from oauth_etl_tests.oauth.test_tokens import make

NAME = "xero-token"


@pytest.fixture
def fake() -> FakeKeyVaultTransport:
    return FakeKeyVaultTransport()


def store_for(fake: FakeKeyVaultTransport, **client_kwargs: Any) -> KeyVaultTokenStore:
    return KeyVaultTokenStore(VAULT_URL, NAME, client=fake_secret_client(fake, **client_kwargs))


def test_missing_secret_loads_none(fake: FakeKeyVaultTransport) -> None:
    assert store_for(fake).load() is None


def test_round_trip_with_json_content_type(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake)
    tokens = make()
    store.save(tokens)
    assert store.load() == tokens
    assert KeyVaultTokenStore(VAULT_URL, NAME, client=fake_secret_client(fake)).load() == tokens
    client = fake_secret_client(fake)
    assert client.get_secret(NAME).properties.content_type == "application/json"
    assert "refresh" not in store.describe() and NAME in store.describe()


def test_writes_only_when_the_set_changed(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake)
    tokens = make()
    store.save(tokens)
    store.save(tokens)
    assert fake.versions(NAME) == 1
    other = store_for(fake)
    assert other.load() == tokens
    other.save(tokens)  # loaded, unchanged: no new version
    assert fake.versions(NAME) == 1
    other.save(make(refresh_token="rotated"))
    assert fake.versions(NAME) == 2


def test_403_names_the_missing_permission(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake)
    fake.deny("PUT")
    with pytest.raises(KeyVaultAccessError) as info:
        store.save(make())
    text = str(info.value)
    assert "Set" in text and "Key Vault Secrets Officer" in text and NAME in text
    fake.deny("GET")
    with pytest.raises(KeyVaultAccessError, match="denied Get"):
        store.load()


def test_429_is_retried_honouring_retry_after(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake)
    fake.inject(429, methods=("PUT",), count=2, retry_after=7)
    store.save(make())
    assert fake.versions(NAME) == 1
    assert fake.sleeps == [7.0, 7.0]


def test_huge_retry_after_is_capped(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake, retry_after_max=2.0)
    fake.inject(429, methods=("GET",), count=1, retry_after=3600)
    assert store.load() is None
    assert fake.sleeps == [2.0]


def test_500_is_retried_a_bounded_number_of_times(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake, retry_total=2)
    fake.inject(500, methods=("GET",), count=100)
    with pytest.raises(KeyVaultAccessError) as info:
        store.load()
    assert "HTTP 500" in str(info.value)
    gets = [entry for entry in fake.log if entry[0] == "GET" and entry[2] == 500]
    assert len(gets) == 3  # first try + retry_total


def test_transient_500_recovers(fake: FakeKeyVaultTransport) -> None:
    store = store_for(fake)
    store.save(make())
    fake.inject(503, methods=("GET",), count=1)
    assert store.load() == make()


def test_corrupt_secret_value_is_a_clear_error(fake: FakeKeyVaultTransport) -> None:
    fake.put_value(NAME, "not json at all")
    with pytest.raises(TokenStoreError) as info:
        store_for(fake).load()
    assert NAME in str(info.value) and "not json" not in str(info.value)


def test_manager_on_key_vault_saves_once_per_rotation(tmp_path: Path) -> None:
    env = Env(tmp_path)
    fake = FakeKeyVaultTransport()
    store = store_for(fake)
    seeded = env.seed(expires_in=-1)
    store.save(seeded)
    manager = TokenManager(store, env.endpoint, FileLock(tmp_path / "kv.lock"), clock=env.clock)
    token = manager.access_token()
    assert fake.versions(NAME) == 2
    assert store_for(fake).load().access_token == token  # type: ignore[union-attr]
    manager.forget()
    manager.access_token()  # valid in the vault: no refresh, no write
    assert fake.versions(NAME) == 2 and env.refreshes() == 1


def test_manager_save_failure_on_vault_writes_rescue(tmp_path: Path) -> None:
    env = Env(tmp_path)
    fake = FakeKeyVaultTransport()
    store = store_for(fake, retry_total=1)
    store.save(env.seed(expires_in=-1))
    fake.inject(503, methods=("PUT",), count=100)
    manager = TokenManager(
        store,
        env.endpoint,
        FileLock(tmp_path / "kv.lock"),
        clock=env.clock,
        rescue_dir=tmp_path / "rescue",
        sleep=lambda _s: None,
        save_attempts=2,
    )
    from oauth_etl.oauth.errors import TokenSaveFailed

    with pytest.raises(TokenSaveFailed) as info:
        manager.access_token()
    assert info.value.rescue_path is not None and info.value.rescue_path.exists()
    assert "Key Vault" in str(info.value)


def test_read_secret(fake: FakeKeyVaultTransport) -> None:
    fake.put_value("xero-client-secret", "the-secret")
    client = fake_secret_client(fake)
    assert read_secret(VAULT_URL, "xero-client-secret", client=client) == "the-secret"
    with pytest.raises(KeyVaultAccessError, match="not found"):
        read_secret(VAULT_URL, "missing", client=client)


def test_shared_state_on_disk_across_transports(tmp_path: Path) -> None:
    first = FakeKeyVaultTransport(state_dir=tmp_path)
    second = FakeKeyVaultTransport(state_dir=tmp_path)
    store_for(first).save(make())
    assert store_for(second).load() == make()
    second.inject(429, methods=("GET",), count=1, retry_after=1)
    store_for(first).load()
    assert first.sleeps == [1.0]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "file:.oauth_etl/xero-token.json",
            StoreLocation("file", path=Path(".oauth_etl/xero-token.json")),
        ),
        ("file:///abs/token.json", StoreLocation("file", path=Path("/abs/token.json"))),
        (
            "keyvault:https://my-vault.vault.azure.net/xero-token",
            StoreLocation(
                "keyvault", vault_url="https://my-vault.vault.azure.net", secret_name="xero-token"
            ),
        ),
        (
            "keyvault:https://my-vault.vault.azure.net/xero-token/",
            StoreLocation(
                "keyvault", vault_url="https://my-vault.vault.azure.net", secret_name="xero-token"
            ),
        ),
    ],
)
def test_parse_store_uri(uri: str, expected: StoreLocation) -> None:
    assert parse_store_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("s3://bucket/key", "file:PATH"),
        ("/just/a/path", "file:PATH"),
        ("file:", "no path"),
        ("keyvault:http://v.vault.azure.net/x", "https"),
        ("keyvault:https://v.vault.azure.net", "one secret name"),
        ("keyvault:https://v.vault.azure.net/a/b", "one secret name"),
        ("keyvault:https://v.vault.azure.net/bad_name", "letters, digits and dashes"),
        ("keyvault:https://v.vault.azure.net/x?sig=abc", "unexpected query"),
    ],
)
def test_parse_store_uri_errors(uri: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_store_uri(uri)


def test_open_store(tmp_path: Path) -> None:
    assert isinstance(open_store(f"file:{tmp_path}/t.json"), FileTokenStore)
    store = open_store("keyvault:https://v.vault.azure.net/name")
    assert isinstance(store, KeyVaultTokenStore) and store.secret_name == "name"


@pytest.mark.keyvault_real
@pytest.mark.skipif(
    not os.environ.get("OAUTH_ETL_TEST_KEYVAULT_URL"),
    reason="set OAUTH_ETL_TEST_KEYVAULT_URL to test against a real Key Vault",
)
def test_real_key_vault_round_trip() -> None:
    vault = os.environ["OAUTH_ETL_TEST_KEYVAULT_URL"]
    name = f"oauth-etl-test-{uuid.uuid4().hex[:12]}"
    store = KeyVaultTokenStore(vault, name)
    assert store.load() is None
    tokens = make()
    store.save(tokens)
    store.save(tokens)  # unchanged: no second version
    assert KeyVaultTokenStore(vault, name).load() == tokens
    versions = list(store.client.list_properties_of_secret_versions(name))
    assert len(versions) == 1
    store.client.begin_delete_secret(name).wait()

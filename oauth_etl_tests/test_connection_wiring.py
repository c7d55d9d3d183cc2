"""The production wiring of `XeroOAuthResource`: the Key Vault store's lease lock, the
rescue location and the redirect URI, as the code location builds them from the contract.

Real Azurite leases, the fake Key Vault (the real `SecretClient` on a fake transport) and
the sandbox over HTTP: no hand-built lock. Two resources that share a secret must take
the same lease blob whatever their container, prefix or vault-URL spelling.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from oauth_etl.app import connection
from oauth_etl.defs.resources import XeroOAuthResource, build_resources
from oauth_etl.oauth.errors import AuthorizationFailed, LockTimeout
from oauth_etl.oauth.rescue import BlobRescueSink, FileRescueSink, default_rescue_dir
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.oauth.fake_keyvault import VAULT_URL, FakeKeyVaultTransport, fake_secret_client

Build = Callable[..., XeroOAuthResource]


@pytest.fixture
def fake_vault(monkeypatch: pytest.MonkeyPatch) -> FakeKeyVaultTransport:
    """Every vault the connection opens is the fake one (whatever the URL's spelling)."""
    fake = FakeKeyVaultTransport()
    monkeypatch.setattr(connection, "make_secret_client", lambda _url: fake_secret_client(fake))
    return fake


@pytest.fixture
def build(
    azurite: Azurite, blob_service: BlobServiceClient, fake_vault: FakeKeyVaultTransport
) -> Iterator[Build]:
    """`build(secret, **env)`: the code location's oauth resource for a Key Vault store."""
    made: list[XeroOAuthResource] = []

    def make(secret: str, vault_url: str = VAULT_URL, **env: str) -> XeroOAuthResource:
        environ = {
            "XERO_CLIENT_ID": "cid",
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "OAUTH_ETL_TOKEN_STORE": f"keyvault:{vault_url}/{secret}",
            "OAUTH_ETL_LOCK_WAIT_SECONDS": "1",
            "OAUTH_ETL_LEASE_SECONDS": "15",
            **env,
        }
        oauth = build_resources(environ, env_vars=False)["oauth"]
        assert isinstance(oauth, XeroOAuthResource)
        made.append(oauth)
        return oauth

    yield make
    for oauth in made:
        if oauth._connection is not None:  # a refused setting opened none
            oauth.connection.close()
        oauth.storage.landing.close()


def unique_secret() -> str:
    return f"xero-token-{uuid.uuid4().hex[:8]}"


def expected_blob(secret: str) -> str:
    """Written out here, not taken from the code: host lower-cased + secret name."""
    identity = f"fake-vault.vault.azure.net/{secret}"
    return f"xero-token-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.lock"


def test_resources_sharing_a_secret_take_one_lease_blob(
    build: Build, blob_service: BlobServiceClient
) -> None:
    secret = unique_secret()
    a = build(secret, OAUTH_ETL_CONTAINER="team-a")
    b = build(
        secret,
        vault_url=VAULT_URL.upper().replace("HTTPS", "https") + ":443",
        OAUTH_ETL_CONTAINER="team-b",
        OAUTH_ETL_PREFIX="raw/",
    )
    lock_a, lock_b = a.token_manager().lock, b.token_manager().lock
    assert lock_a.describe() == lock_b.describe()
    assert f"'{expected_blob(secret)}' in container 'oauth-etl-locks'" in lock_a.describe()
    with lock_a.hold(), pytest.raises(LockTimeout), lock_b.hold():
        pass  # the same lease: B waits out its second and gives up
    with lock_b.hold():  # released: B takes it at once
        pass
    locks = blob_service.get_container_client("oauth-etl-locks")
    assert locks.get_blob_client(expected_blob(secret)).exists()
    for name in ("team-a", "team-b"):  # nothing of the lock in either landing container
        landing = blob_service.get_container_client(name)
        assert not landing.exists() or not list(landing.list_blobs(name_starts_with="_locks"))


def test_another_secret_takes_another_lease_blob(build: Build) -> None:
    a = build(unique_secret()).token_manager().lock
    b = build(unique_secret()).token_manager().lock
    assert a.describe() != b.describe()
    with a.hold(), b.hold():  # both at once: independent
        pass


def test_an_explicit_lock_location_is_shared_across_secrets_and_accounts(
    build: Build, blob_service: BlobServiceClient
) -> None:
    where = f"shared-locks-{uuid.uuid4().hex[:8]}/team/xero.lock"
    a = build(unique_secret(), OAUTH_ETL_TOKEN_LOCK=where).token_manager().lock
    b = build(unique_secret(), OAUTH_ETL_TOKEN_LOCK=where).token_manager().lock
    assert "'team/xero.lock'" in a.describe()
    with a.hold(), pytest.raises(LockTimeout), b.hold():
        pass
    container, _, blob = where.partition("/")
    assert blob_service.get_container_client(container).get_blob_client(blob).exists()
    blob_service.delete_container(container)


def test_a_malformed_lock_location_is_refused_naming_it(build: Build) -> None:
    with pytest.raises(ValueError, match="lock location"):  # when the settings are built
        build(unique_secret(), OAUTH_ETL_TOKEN_LOCK="no-blob-path").token_manager()


def _tokens() -> TokenSet:
    payload = {
        "access_token": "wiring-access",
        "refresh_token": "wiring-refresh",
        "expires_in": 1800,
        "token_type": "Bearer",
        "scope": "offline_access accounting.invoices.read",
    }
    return TokenSet.from_token_response(payload, time.time(), None)


def test_a_blob_rescue_location_keeps_copies_in_the_landing_account(
    build: Build, blob_service: BlobServiceClient, fake_vault: FakeKeyVaultTransport
) -> None:
    secret = unique_secret()
    rescue_container = f"rescue-{uuid.uuid4().hex[:8]}"
    manager = build(
        secret, OAUTH_ETL_RESCUE_LOCATION=f"blob:{rescue_container}/team-a"
    ).token_manager()
    sink = manager.rescue
    assert isinstance(sink, BlobRescueSink)
    assert not blob_service.get_container_client(rescue_container).exists()  # made on use
    tokens = _tokens()
    where = sink.write("rescued.json", tokens.to_json())
    assert where.endswith(f"/{rescue_container}/team-a/rescued.json")
    assert "AccountKey" not in where and "sig=" not in where
    # `token restore URL` reads it back through the same sink, into the vault.
    assert manager.restore(where) == tokens
    stored = fake_vault.value(secret)
    assert stored is not None and TokenSet.from_json(stored.encode()) == tokens
    blob_service.delete_container(rescue_container)


def test_rescue_location_defaults_and_a_directory(
    build: Build, azurite: Azurite, tmp_path: Path
) -> None:
    in_vault = build(unique_secret()).token_manager().rescue
    assert isinstance(in_vault, FileRescueSink) and in_vault.directory == default_rescue_dir()
    beside = build(
        "unused", OAUTH_ETL_TOKEN_STORE=f"file:{tmp_path / 'store' / 't.json'}"
    ).token_manager()
    assert isinstance(beside.rescue, FileRescueSink)
    assert beside.rescue.directory == tmp_path / "store"
    volume = build(unique_secret(), OAUTH_ETL_RESCUE_LOCATION=f"file:{tmp_path / 'vol'}")
    sink = volume.token_manager().rescue
    assert isinstance(sink, FileRescueSink) and sink.directory == tmp_path / "vol"
    with pytest.raises(ValueError, match="rescue location"):
        build(unique_secret(), OAUTH_ETL_RESCUE_LOCATION="s3:bucket").token_manager()


def test_the_redirect_uri_setting_reaches_the_authorize_request(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path
) -> None:
    registered = "http://localhost:9311/xero/callback"
    sandbox = sandbox_factory("--no-limits", "--tenants", "1", "--redirect-uri", registered)
    env = local_environment(sandbox.sandbox, azurite, tmp_path)
    # Not registered: refused like Xero refuses it, and the error says what to register.
    default = build_resources(env, env_vars=False)["oauth"]
    with pytest.raises(AuthorizationFailed, match="redirect-uri"):
        default.connection.authorize(mode="unattended", output=lambda _: None)
    configured = build_resources({**env, "XERO_REDIRECT_URI": registered}, env_vars=False)
    tokens = configured["oauth"].connection.authorize(mode="unattended", output=lambda _: None)
    assert tokens.refresh_token is not None
    # An explicit URI (the CLI's --redirect-uri) wins over the setting.
    with pytest.raises(AuthorizationFailed, match="redirect"):
        configured["oauth"].connection.authorize(
            mode="unattended", redirect_uri="http://localhost:9312/other", output=lambda _: None
        )


def test_each_token_set_has_its_own_secret_and_lease_blob(
    build: Build, fake_vault: FakeKeyVaultTransport
) -> None:
    # OAUTH_ETL_CONNECTIONS: the set `acme` lives in secret `<secret>-acme`, its lease blob
    # derived from that secret's identity, so the two sets refresh independently.
    secret = unique_secret()
    oauth = build(secret, OAUTH_ETL_CONNECTIONS="acme")
    default, acme = oauth.token_manager(), oauth.token_manager("acme")
    assert f"'{secret}-acme'" in acme.store.describe()
    assert f"'{expected_blob(secret + '-acme')}'" in acme.lock.describe()
    assert f"'{expected_blob(secret)}'" in default.lock.describe()
    with default.lock.hold(), acme.lock.hold():  # both at once: independent
        pass
    acme.store_initial(_tokens())
    assert fake_vault.value(f"{secret}-acme") is not None
    assert fake_vault.value(secret) is None  # the default set's secret is untouched

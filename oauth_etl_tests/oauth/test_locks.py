"""The Key Vault store's lock: one lease blob per secret, whatever the spelling."""

from __future__ import annotations

import pytest

from oauth_etl.app.provider import XERO
from oauth_etl.oauth.locks import (
    LOCK_CONTAINER,
    LockLocation,
    keyvault_lock_location,
    secret_identity,
)


def test_identity_ignores_case_default_port_and_trailing_slash() -> None:
    same = {
        secret_identity("https://My-Vault.vault.azure.net", "xero-token"),
        secret_identity("https://my-vault.VAULT.azure.net/", "Xero-Token"),
        secret_identity("https://my-vault.vault.azure.net:443", "xero-token"),
    }
    assert same == {"my-vault.vault.azure.net/xero-token"}
    assert secret_identity("https://v.example:8443", "s") == "v.example:8443/s"


def test_one_secret_one_lock_blob_other_secrets_other_blobs() -> None:
    a = keyvault_lock_location("https://My-Vault.vault.azure.net/", "xero-token", prefix="p")
    b = keyvault_lock_location("https://my-vault.vault.azure.net", "XERO-TOKEN", prefix="p")
    assert a == b and a.container == LOCK_CONTAINER
    assert a.blob.startswith("p-") and a.blob.endswith(".lock")
    # The prefix Xero's deployments always had: their processes keep meeting on one blob.
    assert XERO.lock_prefix == "xero-token"
    assert keyvault_lock_location("https://my-vault.vault.azure.net", "other", prefix="p") != a
    assert keyvault_lock_location("https://other.vault.azure.net", "xero-token", prefix="p") != a


def test_explicit_lock_location() -> None:
    got = keyvault_lock_location("https://v.vault.azure.net", "s", "shared-locks/team/xero.lock")
    assert got == LockLocation("shared-locks", "team/xero.lock")
    assert "shared-locks" in got.describe()
    for bad in ("no-blob", "UPPER/x.lock", "ab/x.lock", "ok-container/bad path"):
        with pytest.raises(ValueError, match="lock location"):
            keyvault_lock_location("https://v.vault.azure.net", "s", bad)


def test_a_vault_url_without_host_is_refused() -> None:
    with pytest.raises(ValueError, match="no host"):
        secret_identity("not a url", "s")

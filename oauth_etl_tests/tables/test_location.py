"""Storage options for delta-rs from the landing account's settings; the startFrom relay."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from oauth_etl.tables.location import (
    STORAGE_SCOPE,
    TableStore,
    default_root,
    storage_options_provider,
)
from oauth_etl_dev.azurite_relay import filter_listing
from oauth_etl_dev.local_services import AZURITE_KEY as AZURITE_ACCOUNT_KEY
from oauth_etl_dev.local_services import azurite_connection_string


def test_default_root_sits_beside_the_landed_batches() -> None:
    assert default_root("xero-raw") == "az://xero-raw/tables/xero"
    assert default_root("xero-raw", "raw") == "az://xero-raw/raw/tables/xero"
    assert TableStore("az://c/tables/xero/").uri("invoices") == "az://c/tables/xero/invoices"


def test_a_connection_string_with_a_key_and_an_emulator_endpoint() -> None:
    options = storage_options_provider(
        connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
        )
    )()
    assert options == {
        "account_name": "devstoreaccount1",
        "account_key": AZURITE_ACCOUNT_KEY,
        "azure_storage_endpoint": "http://127.0.0.1:10000/devstoreaccount1",
        "allow_http": "true",
    }
    # No silent fallback to a local emulator, as for the landing account.
    with pytest.raises(ValueError, match="full connection string"):
        storage_options_provider(connection_string="UseDevelopmentStorage=true")
    with pytest.raises(ValueError, match="no storage account"):
        storage_options_provider()


def test_a_connection_string_with_a_sas_and_a_public_endpoint() -> None:
    options = storage_options_provider(
        connection_string="BlobEndpoint=https://acct.blob.core.windows.net/;"
        "SharedAccessSignature=sv=2024&sig=abc;AccountName=acct"
    )()
    assert options == {
        "account_name": "acct",
        "sas_token": "sv=2024&sig=abc",
        "azure_storage_endpoint": "https://acct.blob.core.windows.net",
    }
    with pytest.raises(ValueError, match="AccountName"):
        storage_options_provider(connection_string="AccountKey=x")()


@dataclass
class _Token:
    token: str


class _Credential:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_token(self, scope: str) -> _Token:
        self.calls.append(scope)
        return _Token(f"token-{len(self.calls)}")


def test_an_account_url_uses_a_sas_or_a_fresh_token_per_operation() -> None:
    with_sas = storage_options_provider(
        account_url="https://acct.blob.core.windows.net", sas_token="?sv=1&sig=2"
    )()
    assert with_sas["account_name"] == "acct" and with_sas["sas_token"] == "sv=1&sig=2"
    credential = _Credential()
    provider = storage_options_provider(
        account_url="https://acct.blob.core.windows.net/", credential=credential
    )
    assert provider()["bearer_token"] == "token-1"
    assert provider()["bearer_token"] == "token-2"
    assert credential.calls == [STORAGE_SCOPE, STORAGE_SCOPE]
    emulator = storage_options_provider(
        account_url="http://127.0.0.1:10000/devstoreaccount1", credential=credential
    )()
    assert emulator["account_name"] == "devstoreaccount1" and emulator["allow_http"] == "true"


def test_a_store_for_the_landing_account_and_an_overridden_root() -> None:
    with pytest.raises(ValueError, match="no storage account"):  # no default account
        TableStore.for_account(container="xero-raw", prefix="raw/", sas_token=None)
    store = TableStore.for_account(
        container="xero-raw",
        prefix="raw/",
        connection_string=azurite_connection_string(10000),
        endpoint_url="http://127.0.0.1:10001/devstoreaccount1",  # e.g. the startFrom relay
    )
    assert store.root == "az://xero-raw/raw/tables/xero"
    options = store.storage_options()
    assert options["account_name"] == "devstoreaccount1"
    assert options["azure_storage_endpoint"] == "http://127.0.0.1:10001/devstoreaccount1"
    assert options["allow_http"] == "true"
    other = TableStore.for_account(
        container="xero-raw",
        account_url="https://acct.blob.core.windows.net",
        sas_token="sv=1",
        root="abfss://lake@acct.dfs.core.windows.net/xero",
    )
    assert other.uri("journals") == "abfss://lake@acct.dfs.core.windows.net/xero/journals"
    assert other.storage_options()["sas_token"] == "sv=1"


def test_the_store_keeps_its_options_out_of_repr() -> None:
    store = TableStore("az://c/tables/xero", lambda: {"account_key": "very-secret"})
    assert "very-secret" not in repr(store) and "very-secret" not in str(store)


def test_the_relay_filter_drops_blobs_before_start_from_as_azure_does() -> None:
    body = (
        b'<?xml version="1.0"?><EnumerationResults><Blobs>'
        b"<Blob><Name>t/_delta_log/00000000000000000000.json</Name><Properties/></Blob>"
        b"<Blob><Name>t/_delta_log/00000000000000000001.json</Name><Properties/></Blob>"
        b"<Blob><Name>t/_delta_log/00000000000000000002.json</Name><Properties/></Blob>"
        b"<Blob><Name>t/_delta_log/a&amp;b</Name></Blob>"
        b"</Blobs><NextMarker/></EnumerationResults>"
    )
    kept = filter_listing(body, "t/_delta_log/00000000000000000001")
    assert b"0000.json" not in kept
    assert kept.count(b"<Blob>") == 3 and b"a&amp;b" in kept
    assert kept.endswith(b"</Blobs><NextMarker/></EnumerationResults>")

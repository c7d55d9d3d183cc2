"""Failures read clearly and never leak a key or SAS: wrong key, no service, no container."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from oauth_etl.app.contract import ConfigError, StorageSettings
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource, SasToken
from oauth_etl.storage import (
    ContainerMissing,
    LandingBatch,
    StorageAuthError,
    StorageError,
    StorageUnreachable,
    describe_account,
    make_blob_service_client,
    write_batch,
)
from oauth_etl.storage.account import redact, safe_url
from oauth_etl_dev.local_services import AZURITE_KEY, Azurite, azurite_connection_string, free_port
from oauth_etl_tests.storage._support import account_sas, container_sas, records

WRONG_KEY = base64.b64encode(b"not the key" * 6).decode()


def a_batch() -> LandingBatch:
    return LandingBatch("xero", "invoices", "t1", records(3))


def test_there_is_no_default_account() -> None:
    with pytest.raises(ValueError, match="no storage account"):
        make_blob_service_client()
    with pytest.raises(ConfigError, match="AZURE_STORAGE_CONNECTION_STRING"):
        StorageSettings().credential()


def landing(connection_string: str, **config: Any) -> LandingStorageResource:
    return LandingStorageResource(
        credential=ConnectionString(connection_string=connection_string), **config
    )


def test_the_resource_describes_its_account(azurite: Azurite) -> None:
    resource = landing(azurite.connection_string)
    described = (
        f"storage account 'devstoreaccount1' at http://127.0.0.1:{azurite.port}/devstoreaccount1"
    )
    assert resource.describe() == f"container 'xero-raw' in {described}"


def test_wrong_key_is_an_auth_error_without_the_key(azurite: Azurite) -> None:
    connection = azurite_connection_string(azurite.port).replace(AZURITE_KEY, WRONG_KEY)
    resource = landing(connection, container="landing")
    with pytest.raises(StorageAuthError) as caught:
        resource.container_client()
    text = str(caught.value)
    assert "devstoreaccount1" in text and "landing" in text
    assert WRONG_KEY not in text and WRONG_KEY[:20] not in text
    assert caught.value.__cause__ is None  # the SDK error (and its request) is not chained


def test_nothing_listening_is_unreachable_quickly() -> None:
    port = free_port()
    connection = azurite_connection_string(port)
    container = make_blob_service_client(connection_string=connection).get_container_client("c1")
    started = time.monotonic()
    with pytest.raises(StorageUnreachable) as caught:
        write_batch(container, a_batch(), prefix="", run_id="r1")
    elapsed = time.monotonic() - started
    assert elapsed < 6, f"bounded retries took {elapsed:.1f} s"
    assert f"127.0.0.1:{port}/devstoreaccount1" in str(caught.value)
    assert AZURITE_KEY not in str(caught.value)


def test_missing_container_with_create_disabled(azurite: Azurite) -> None:
    name = f"missing-{uuid.uuid4().hex[:12]}"
    resource = landing(azurite.connection_string, container=name, create_container=False)
    with pytest.raises(ContainerMissing, match=f"container '{name}' does not exist"):
        resource.container_client()
    # Writing straight to a missing container maps the same way.
    client = make_blob_service_client(connection_string=azurite.connection_string)
    with pytest.raises(ContainerMissing, match=name):
        write_batch(client.get_container_client(name), a_batch(), prefix="", run_id="r1")


def test_create_container_when_allowed(azurite: Azurite, blob_service: BlobServiceClient) -> None:
    name = f"created-{uuid.uuid4().hex[:12]}"
    resource = landing(azurite.connection_string, container=name)
    try:
        container = resource.container_client()
        assert container.exists()
        write_batch(container, a_batch(), prefix="", run_id="r1")
    finally:
        blob_service.delete_container(name)
    with pytest.raises(ValueError, match="not a valid name"):
        landing(azurite.connection_string, container="Bad_Name").container_client()


def test_sas_without_write_rights_is_an_auth_error(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    sas = container_sas(blob_service, container.container_name, read=True, list=True)
    account_url = f"http://127.0.0.1:{azurite.port}/devstoreaccount1"
    resource = LandingStorageResource(
        credential=SasToken(account_url=account_url, sas_token=sas),
        container=container.container_name,
    )
    with pytest.raises(StorageAuthError) as caught:
        write_batch(resource.container_client(), a_batch(), prefix="", run_id="r1")
    text = str(caught.value)
    assert container.container_name in text
    signature = sas.split("sig=")[1].split("&")[0]
    assert "sig=" not in text and signature not in text
    assert sas not in repr(resource) and sas not in resource.describe()
    assert "sig" not in resource.container_url()


def test_sas_with_rights_lands_and_describes_without_sas(
    azurite: Azurite, blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    sas = account_sas(blob_service, read=True, write=True, list=True, create=True, add=True)
    client = make_blob_service_client(
        account_url=f"http://127.0.0.1:{azurite.port}/devstoreaccount1", sas_token="?" + sas
    )
    assert "sig=" in client.url  # the SDK keeps the SAS in its URLs...
    assert "sig=" not in describe_account(client)  # ...we never print them
    landed = write_batch(
        client.get_container_client(container.container_name), a_batch(), prefix="", run_id="r"
    )
    assert landed.record_count == 3


def test_bad_configuration_is_rejected_clearly() -> None:
    with pytest.raises(StorageError, match="connection string is malformed"):
        make_blob_service_client(connection_string="AccountKey")
    with pytest.raises(ValueError, match="not both"):
        make_blob_service_client(connection_string="x", account_url="https://a")
    with pytest.raises(ValueError, match="must start with https://"):
        make_blob_service_client(account_url="a.blob.core.windows.net?sig=abc")
    assert safe_url("https://a.blob.core.windows.net/c/b?sv=1&sig=SECRET") == (
        "https://a.blob.core.windows.net/c/b"
    )
    assert "SECRET" not in redact("GET /c?sv=1&sig=SECRET&se=2 failed")

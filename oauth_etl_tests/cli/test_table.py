"""`oauth-etl table show` over Azurite: a typo lists the names, a table of the catalog not
merged yet is told from one that does not exist (once), a bad --history is refused, and
unreachable storage is one line naming the account, fast."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, AZURITE_KEY, Azurite, free_port
from oauth_etl_tests.cli.conftest import cli


@pytest.fixture
def tables_env(
    env: dict[str, str], azurite: Azurite, blob_service: BlobServiceClient
) -> Iterator[dict[str, str]]:
    """The landing container exists, no table is merged; delta-rs through the relay."""
    container = f"tables-{uuid.uuid4().hex[:12]}"
    blob_service.create_container(container)
    with StartFromRelay(azurite.port) as relay:
        yield {
            **env,
            "OAUTH_ETL_CONTAINER": container,
            "OAUTH_ETL_TABLES_ENDPOINT_URL": f"http://127.0.0.1:{relay.port}/{AZURITE_ACCOUNT}",
        }
    blob_service.delete_container(container)


def test_names_are_checked_against_the_catalog(tables_env: dict[str, str]) -> None:
    env = tables_env
    typo = cli(env, "table", "show", "invoice")
    assert typo.returncode == 1 and typo.stdout == ""
    assert "no table 'invoice' in the catalog: did you mean invoices?" in typo.stderr
    assert "invoice_line_items" in typo.stderr  # the valid names are listed
    assert typo.stderr.count("error:") == 1

    for name in ("invoices", "xero/invoices", "xero_tables/invoices"):
        pending = cli(env, "table", "show", name)
        assert pending.returncode == 1
        assert pending.stderr.count("xero_tables/invoices is not merged yet") == 1, pending.stderr
        assert "oauth-etl run --select invoices" in pending.stderr

    # A child table is filled by its parent's endpoint: that is what `run --select` takes.
    child = cli(env, "table", "show", "invoice_line_items")
    assert child.returncode == 1 and "xero_tables/invoice_line_items is not merged" in child.stderr
    assert "`oauth-etl run --select invoices`" in child.stderr, child.stderr
    assert "--select invoice_line_items" not in child.stderr

    for bad in ("-1", "0", "many"):
        history = cli(env, "table", "show", "invoices", "--history", bad)
        assert history.returncode == 2 and "--history" in history.stderr
    for result in (typo, pending, history):
        assert "Traceback" not in result.stderr


def test_unreachable_storage_is_one_line_with_the_account(env: dict[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}"
    down = {
        **env,
        "AZURE_STORAGE_CONNECTION_STRING": (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
        ),
    }
    started = time.monotonic()
    shown = cli(down, "table", "show", "xero_tables/invoices")
    assert time.monotonic() - started < 15
    assert shown.returncode == 1
    (line,) = shown.stderr.splitlines()
    assert line.startswith("error: cannot read the Delta table") and endpoint in line
    assert "connection refused" in line and "AZURE_STORAGE_CONNECTION_STRING" in line
    assert AZURITE_KEY not in line and "MicrosoftAzure" not in line

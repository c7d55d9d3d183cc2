"""Tables over Azurite: a startFrom relay for delta-rs, a table store per test, landing."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.storage.batch import LandingBatch
from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.writer import write_batch
from oauth_etl.tables.location import TableStore, default_root, storage_options_provider
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.local_services import Azurite, azurite_connection_string
from oauth_etl_dev.sandbox import data
from oauth_etl_dev.sandbox.gen_transactions import gen_invoice

PREFIX = "raw"
BASE_MS = 1_700_000_000_000


@pytest.fixture(scope="session")
def relay(azurite: Azurite) -> Iterator[StartFromRelay]:
    with StartFromRelay(azurite.port) as started:
        yield started


@pytest.fixture
def store(container: ContainerClient, relay: StartFromRelay) -> TableStore:
    options = storage_options_provider(connection_string=azurite_connection_string(relay.port))
    return TableStore(default_root(container.container_name, PREFIX), options)


def land(
    container: ContainerClient,
    endpoint: str,
    tenant_id: str,
    records: list[Mapping[str, Any]],
    batch_id: str,
) -> Manifest:
    """Land records as the extraction would: gzip JSON Lines parts plus a manifest."""
    batch = LandingBatch("xero", endpoint, tenant_id, list(records))
    return write_batch(container, batch, prefix=PREFIX, run_id="test", batch_id=batch_id)


def invoices(tenant: str, count: int, start: int = 0, stamp_ms: int = BASE_MS) -> list[dict]:
    """Sandbox-shaped invoices (deterministic per tenant and index)."""
    context = data.TenantContext(7, 0, tenant, tenant, BASE_MS, max(count, 1))
    out = []
    for i in range(start, start + count):
        out.append(gen_invoice(context, random.Random(f"{tenant}-{i}"), i, stamp_ms + i))
    return out


def net_date(ms: int) -> str:
    return data.net_date(ms)

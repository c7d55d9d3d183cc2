"""The real local stack for end-to-end bad-input tests: sandbox Xero + Azurite + a file store.

`Stack.materialize(endpoint)` runs `dg.materialize` of `build_endpoint_asset(endpoint)` with
the resources of `build_resources(environ, env_vars=False)`, the environment pointing at
the sandbox and Azurite, exactly as `dagster dev` would build them; only the API timeout,
attempts, page size and part size are made small so faults show quickly and a batch has
several parts before a fault.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from azure.storage.blob import BlobServiceClient, ContainerClient

from oauth_etl.app.connection import open_from_environment
from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.resources import XeroApiResource, build_resources
from oauth_etl.defs.xero.assets import build_endpoint_asset
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.xero.catalog import endpoint as catalog_endpoint
from oauth_etl_tests.conftest import SandboxHandle

API_TIMEOUT = 1  # second: the sandbox's `delay` fault sleeps longer
API_ATTEMPTS = 2  # one retry: bounded, and the test stays short
PAGE_SIZE = 100  # 250 invoices → 3 pages
PART_BYTES = 20_000  # page 1 alone fills several parts


@dataclass
class Outcome:
    success: bool
    error: str  # the step failure's text (message, causes), '' on success
    blobs: list[str]  # everything in the container afterwards


@dataclass
class Stack:
    sandbox: SandboxHandle
    connection_string: str
    token_path: Path
    container: ContainerClient
    tenant_id: str = ""

    def environ(self) -> dict[str, str]:
        return {
            "XERO_CLIENT_ID": self.sandbox.client_id,
            "XERO_CLIENT_SECRET": self.sandbox.client_secret or "",
            "XERO_LOGIN_URL": self.sandbox.url,
            "XERO_IDENTITY_URL": self.sandbox.url,
            "XERO_API_URL": self.sandbox.url,
            "OAUTH_ETL_TOKEN_STORE": f"file:{self.token_path}",
            "AZURE_STORAGE_CONNECTION_STRING": self.connection_string,
            "OAUTH_ETL_CONTAINER": self.container.container_name,
        }

    def resources(self) -> dict[str, Any]:
        resources = build_resources(self.environ(), env_vars=False)
        resources["xero"] = XeroApiResource(
            oauth=resources["oauth"],
            timeout_seconds=API_TIMEOUT,
            max_attempts=API_ATTEMPTS,
            page_size=PAGE_SIZE,
        )
        resources["landing_io_manager"] = BlobLandingIOManager(
            storage=resources["storage"], part_size_bytes=PART_BYTES
        )
        return resources

    def authorize(self) -> None:
        """A fresh authorization into the token file, as `oauth-etl authorize` does."""
        with open_from_environment(self.environ()) as (connection, api):
            connection.authorize(mode="unattended", output=lambda _line: None)
            self.tenant_id = api.connections()[0].tenant_id

    def fault(self, spec: dict[str, Any]) -> None:
        self.sandbox.post("/_sandbox/faults", spec)

    def materialize(self, endpoint_name: str = "invoices") -> Outcome:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(TENANTS.name or "", [self.tenant_id])
        result = dg.materialize(
            # One attempt: the outcome of each fault itself, not of the step's retries.
            [build_endpoint_asset(catalog_endpoint(endpoint_name), retry_policy=None)],
            partition_key=self.tenant_id,
            instance=instance,
            resources=self.resources(),
            raise_on_error=False,
        )
        error = ""
        if not result.success:
            failures = result.get_step_failure_events()
            assert failures, "the run failed without a step failure"
            info = failures[0].step_failure_data.error
            error = str(info)
        blobs = sorted(b.name for b in self.container.list_blobs())
        return Outcome(result.success, error, blobs)


def fresh_container(service: BlobServiceClient) -> ContainerClient:
    return service.create_container(f"bad-{uuid.uuid4().hex[:16]}")

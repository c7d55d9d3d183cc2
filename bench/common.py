"""Shared plumbing: local services per benchmark, authorization, sandbox stats, figures."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from azure.storage.blob import BlobServiceClient, ContainerClient

from oauth_etl.defs.resources import XeroOAuthResource
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource
from oauth_etl.storage.account import make_blob_service_client
from oauth_etl.xero.scopes import scopes_for
from oauth_etl_dev.local_services import Azurite, Sandbox, start_azurite, start_sandbox

CLIENT_ID = "bench-client"
MiB = 1024 * 1024


@dataclass
class Figure:
    """One row of the results table. `met` is None when there is no target."""

    benchmark: str
    figure: str
    ours: float | None
    baseline: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    ratio: float | None = None  # how many times better ours is than the baseline
    note: str = ""
    higher_is_better: bool = False

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours and self.baseline:
            if self.higher_is_better:
                self.ratio = self.ours / self.baseline
            else:
                self.ratio = self.baseline / self.ours


@dataclass
class BenchResult:
    name: str
    figures: list[Figure] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # extra findings (profiles, notes)
    seconds: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stack:
    """A sandbox and an Azurite started for one benchmark, and an authorized connection."""

    sandbox: Sandbox
    azurite: Azurite
    workdir: Path
    oauth: XeroOAuthResource
    storage: LandingStorageResource
    admin: httpx.Client

    @property
    def url(self) -> str:
        return self.sandbox.url

    def stats(self) -> dict[str, Any]:
        response = self.admin.get("/_sandbox/stats")
        response.raise_for_status()
        return dict(response.json())

    def tenants(self) -> list[str]:
        response = self.admin.get("/_sandbox/tenants")
        response.raise_for_status()
        body = response.json()
        rows = body.get("tenants", body) if isinstance(body, dict) else body
        return [row["tenantId"] if isinstance(row, dict) else str(row) for row in rows]

    def blob_service(self) -> BlobServiceClient:
        return make_blob_service_client(connection_string=self.azurite.connection_string)

    def new_container(self, label: str) -> ContainerClient:
        name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        return self.blob_service().create_container(name)


@contextlib.contextmanager
def stack(sandbox_args: Sequence[str], *, label: str = "bench") -> Iterator[Stack]:
    """Start Azurite and a sandbox on free loopback ports, authorize, stop both on exit."""
    workdir = Path(tempfile.mkdtemp(prefix=f"oauth-etl-{label}-"))
    secret = secrets.token_urlsafe(24)
    azurite = start_azurite()
    sandbox: Sandbox | None = None
    admin: httpx.Client | None = None
    try:
        sandbox = start_sandbox(client_id=CLIENT_ID, client_secret=secret, extra_args=sandbox_args)
        admin = httpx.Client(base_url=sandbox.url, timeout=120.0)
        storage = LandingStorageResource(
            credential=ConnectionString(connection_string=azurite.connection_string)
        )
        oauth = XeroOAuthResource(
            client_id=CLIENT_ID,
            client_secret=secret,
            login_url=sandbox.url,
            identity_url=sandbox.url,
            api_url=sandbox.url,
            token_store=f"file:{workdir / 'xero-token.json'}",
            storage=storage,
        )
        # The whole catalog, opt-in endpoints included (see bench/edits.py).
        full = scopes_for(with_journals=True, with_classic_expenses=True).scopes
        oauth.connection.authorize(mode="unattended", scopes=full, output=lambda _line: None)
        yield Stack(sandbox, azurite, workdir, oauth, storage, admin)
    finally:
        if admin is not None:
            admin.close()
        if sandbox is not None:
            sandbox.stop()
        azurite.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def calls_by_endpoint(before: dict[str, Any], after: dict[str, Any], tenant: str) -> dict[str, int]:
    """API calls the sandbox counted for one tenant between two stats snapshots."""
    old = before.get("api_calls", {}).get(tenant, {})
    new = after.get("api_calls", {}).get(tenant, {})
    return {k: int(v) - int(old.get(k, 0)) for k, v in new.items() if int(v) - int(old.get(k, 0))}


def records_served(before: dict[str, Any], after: dict[str, Any], tenant: str) -> int:
    old = before.get("records_served", {}).get(tenant, {})
    new = after.get("records_served", {}).get(tenant, {})
    return sum(int(v) - int(old.get(k, 0)) for k, v in new.items())


def rate_limited(before: dict[str, Any], after: dict[str, Any]) -> int:
    old, new = before.get("rate_limited", {}), after.get("rate_limited", {})
    return sum(int(v) - int(old.get(k, 0)) for k, v in new.items())


def warm(stack_: Stack, tenant: str, path: str) -> float:
    """Make the sandbox generate an endpoint's records (lazy, slow on first call); seconds."""
    token = stack_.oauth.token_manager().access_token()
    started = time.perf_counter()
    response = stack_.admin.get(
        f"/api.xro/2.0/{path}",
        params={"page": "1", "pageSize": "1"},
        headers={"Authorization": f"Bearer {token}", "xero-tenant-id": tenant},
        timeout=600.0,
    )
    response.raise_for_status()
    return time.perf_counter() - started


def env_without_secrets() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("XERO_", "AZURE_"))}


def run_worker(
    stack_: Stack, impl: str, endpoint_path: str, tenant: str, container: str, timeout: float
) -> dict[str, Any]:
    """Run `bench.worker` in a fresh interpreter; its JSON answer."""
    import subprocess
    import sys

    import orjson

    from oauth_etl_dev.local_services import PROJECT_ROOT

    env = env_without_secrets() | {
        "BENCH_ACCESS_TOKEN": stack_.oauth.token_manager().access_token(),
        "BENCH_STORAGE": stack_.azurite.connection_string,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    argv = [
        sys.executable,
        "-m",
        "bench.worker",
        "--impl",
        impl,
        "--endpoint",
        endpoint_path,
        "--url",
        stack_.url,
        "--tenant",
        tenant,
        "--container",
        container,
    ]
    done = subprocess.run(
        argv, env=env, capture_output=True, timeout=timeout, check=False, cwd=PROJECT_ROOT
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError(f"worker {impl} {endpoint_path} failed: " + "\n".join(tail))
    return dict(orjson.loads(done.stdout.strip().splitlines()[-1]))

"""Shared fixtures: real Azurite and a real sandbox Xero, both on free loopback ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from oauth_etl.app.connection import open_from_environment
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import (
    PORT_RANGE_VAR,
    Azurite,
    Sandbox,
    start_azurite,
    start_sandbox,
)
from oauth_etl_tests import canary

SANDBOX_CLIENT_ID = "test-client-id"
SANDBOX_CLIENT_SECRET = canary.CLIENT_SECRET


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run the long soak tests")


# Under pytest-xdist each worker starts its own services (Azurite, sandboxes, PostgreSQL,
# webservers) and hands out ports from its own block, below Linux's ephemeral range.
PORT_BLOCK_START = 20_000
PORT_BLOCK_SIZE = 1_500
PORT_BLOCKS = 8  # 20000-31999: up to 8 workers; more share the kernel's free ports


def pytest_configure(config: pytest.Config) -> None:
    canary.watch_dagster_events()  # per process: each xdist worker patches its own Dagster
    worker = getattr(config, "workerinput", {}).get("workerid", "")  # "gw3" under xdist
    if worker.startswith("gw") and int(worker[2:]) < PORT_BLOCKS:
        low = PORT_BLOCK_START + int(worker[2:]) * PORT_BLOCK_SIZE
        os.environ[PORT_RANGE_VAR] = f"{low}-{low + PORT_BLOCK_SIZE - 1}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fail a test whose output, logs, errors or Dagster events show a secret canary."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    canary.report(
        "captured output, logs or error text",
        [report.capstdout, report.capstderr, report.caplog, report.longreprtext],
    )
    if report.when == "teardown":
        hits = canary.take_hits()
        if hits and report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = "secret canary leaked: " + "; ".join(hits)


# Test layers, by what a test needs: `make test-fast` runs the tests that need none of
# these (no server, no child process, no deployment replay).
INTEGRATION_FIXTURES = frozenset(
    {
        "azurite",
        "azurite_queue",
        "blob_service",
        "container",
        "sandbox",
        "sandbox_factory",
        "local_env",
        "postgres",
        "silent",  # test_doctor_silent: 127.0.0.1 listeners that never answer (3 s waits)
    }
)
E2E_PATHS = ("ui/", "reliability/", "engine/", "cli/", "test_pipeline.py")
DEPLOY_PATHS = ("deploy/",)


def layer_of(item: pytest.Item) -> str | None:
    path = Path(str(item.fspath)).resolve().relative_to(Path(__file__).resolve().parent)
    where = path.as_posix()
    if where.startswith(DEPLOY_PATHS):
        return "deploy"
    if where.startswith(E2E_PATHS):
        return "e2e"
    if INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "integration"
    return None


# Heaviest first: with the workers taking tests one or two at a time (`make test`), the
# long end-to-end tests start at once and the unit tests fill the gaps at the end.
LAYER_ORDER = {"e2e": 0, "deploy": 1, "integration": 2, None: 3}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    module_rank: dict[str, int] = {}
    for item in items:
        layer = layer_of(item)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))
        # A module keeps its tests together (its module fixtures are set up once).
        module = str(item.fspath)
        module_rank[module] = min(module_rank.get(module, 3), LAYER_ORDER[layer])
    items.sort(key=lambda item: module_rank[str(item.fspath)])  # stable: order kept within
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    service = start_azurite()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def blob_service(azurite: Azurite) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(azurite.connection_string)


@pytest.fixture
def container(blob_service: BlobServiceClient) -> Iterator[ContainerClient]:
    """A fresh, empty container for one test."""
    client = blob_service.create_container(f"test-{uuid.uuid4().hex[:20]}")
    try:
        yield client
    finally:
        canary.scan_container(client)
        client.delete_container()


class SandboxHandle:
    """A running sandbox plus its admin API."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.url = sandbox.url
        self.client_id = sandbox.client_id
        self.client_secret = sandbox.client_secret
        # The first admin call may generate the data (seconds; more on a loaded machine).
        self.admin = httpx.Client(base_url=sandbox.url, timeout=60.0)

    def stats(self) -> dict[str, object]:
        response = self.admin.get("/_sandbox/stats")
        response.raise_for_status()
        return dict(response.json())

    def post(self, path: str, payload: object) -> httpx.Response:
        response = self.admin.post(path, json=payload)
        response.raise_for_status()
        return response

    def advance_clock(self, seconds: float) -> None:
        self.post("/_sandbox/clock", {"advance_seconds": seconds})

    def reset(self) -> None:
        self.post("/_sandbox/reset", {})

    def stop(self) -> None:
        self.admin.close()
        self.sandbox.stop()


SandboxFactory = Callable[..., SandboxHandle]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """Start sandboxes with custom flags; all are stopped after the test."""
    started: list[SandboxHandle] = []

    def factory(
        *args: str,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str | None = SANDBOX_CLIENT_SECRET,
    ) -> SandboxHandle:
        extra: Sequence[str] = (*args, "--token-prefix", canary.TOKEN_PREFIX)
        handle = SandboxHandle(
            start_sandbox(client_id=client_id, client_secret=client_secret, extra_args=extra)
        )
        started.append(handle)
        return handle

    try:
        yield factory
    finally:
        for handle in started:
            handle.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxHandle:
    """A default sandbox (2 tenants, 250 records per paged endpoint, no limits)."""
    return sandbox_factory("--tenants", "2", "--records", "250", "--no-limits")


@pytest.fixture
def local_env(
    sandbox: SandboxHandle,
    azurite: Azurite,
    blob_service: BlobServiceClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The environment contract pointed at `sandbox`, Azurite, a fresh container and a
    file token store in `tmp_path`, already authorized (as `oauth-etl authorize` does)."""
    environment = local_environment(sandbox.sandbox, azurite, tmp_path)
    environment["OAUTH_ETL_CONTAINER"] = f"test-{uuid.uuid4().hex[:20]}"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with open_from_environment() as (connection, _):
        connection.authorize(mode="unattended", output=lambda _: None)
    yield environment
    landing = blob_service.get_container_client(environment["OAUTH_ETL_CONTAINER"])
    if landing.exists():
        canary.scan_container(landing)
        landing.delete_container()

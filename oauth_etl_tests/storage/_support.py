"""Shared helpers for the storage tests (records, SAS tokens, subprocess workers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    ResourceTypes,
    generate_account_sas,
    generate_container_sas,
)

from oauth_etl_dev.local_services import AZURITE_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def record(i: int, pad: int = 300) -> dict[str, Any]:
    """An invoice-like record of roughly 500 bytes of JSON."""
    return {
        "InvoiceID": f"00000000-0000-4000-8000-{i:012d}",
        "InvoiceNumber": f"INV-{i:06d}",
        "Type": "ACCREC",
        "Contact": {"ContactID": f"c-{i % 97}", "Name": f"Customer {i % 97}"},
        "Status": "AUTHORISED",
        "Total": i * 1.5,
        "UpdatedDateUTC": f"/Date({1_700_000_000_000 + i}+0000)/",
        "Reference": f"ref {i} " + "x" * pad,
    }


def records(n: int, pad: int = 300) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield record(i, pad)


def account_sas(service: BlobServiceClient, **permissions: bool) -> str:
    return generate_account_sas(
        service.account_name or "",
        AZURITE_KEY,
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(**permissions),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


def container_sas(service: BlobServiceClient, container: str, **permissions: bool) -> str:
    return generate_container_sas(
        service.account_name or "",
        container,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(**permissions),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


def start_worker(*args: str) -> subprocess.Popen[str]:
    """Run `oauth_etl_tests.storage._worker` in a child process (own session)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "oauth_etl_tests.storage._worker", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_line(process: subprocess.Popen[str], expected: str, timeout: float = 20.0) -> str:
    """Read the child's stdout until a line starting with `expected` (bounded)."""
    import selectors
    import time

    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(expected):
            return line.strip()
    stderr = process.stderr.read() if process.poll() is not None and process.stderr else ""
    raise AssertionError(f"child never printed {expected!r}; stderr: {stderr[-2000:]}")

"""The baseline: a Xero extractor as people usually write it.

Sequential requests, Xero's default page size (no `pageSize`, so 100 records a
page), stdlib `json` and `gzip`, and the whole file built in memory, then one
`upload_blob` per endpoint. Benchmarks run it side by side with oauth_etl.

It pages the way Xero's docs say (`page` until a short page, Journals by
`offset`, one call for the rest) and, like most hand-written clients, sleeps on
a 429 for `Retry-After` seconds and tries again (bounded), so it survives the
rate limits it is benchmarked under.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass
from typing import Literal

import httpx
from azure.storage.blob import ContainerClient

PAGE = 100  # Xero's default page size
MAX_CALLS = 100_000  # a safety bound on any paging loop
MAX_429_WAITS = 50

Paging = Literal["page", "offset", "none"]


@dataclass
class BaselineResult:
    records: int
    api_calls: int
    uncompressed_bytes: int
    compressed_bytes: int
    rate_limited: int = 0


def extract_endpoint(
    api_url: str,
    access_token: str,
    tenant_id: str,
    path: str,
    record_key: str,
    container: ContainerClient | None,
    blob_name: str,
    *,
    paging: Paging = "page",
    offset_field: str = "JournalNumber",
) -> BaselineResult:
    """Read one endpoint into memory, gzip it, upload it (skipped when `container` is None)."""
    headers = {
        "Authorization": f"Bearer {access_token}",
        "xero-tenant-id": tenant_id,
        "Accept": "application/json",
    }
    records: list[dict[str, object]] = []
    calls = 0
    limited = 0
    with httpx.Client(base_url=api_url, headers=headers, timeout=60.0) as client:

        def get(params: dict[str, str]) -> list[dict[str, object]]:
            nonlocal calls, limited
            while True:
                response = client.get(f"/api.xro/2.0/{path}", params=params)
                calls += 1
                if response.status_code == 429 and limited < MAX_429_WAITS:
                    limited += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                batch: list[dict[str, object]] = json.loads(response.content)[record_key]
                return batch

        if paging == "none":
            records.extend(get({}))
        else:
            # By offset: the last record's number; by page: the next page.
            key, position = ("offset", 0) if paging == "offset" else ("page", 1)
            while calls < MAX_CALLS:
                batch = get({key: str(position)})
                records.extend(batch)
                if len(batch) < PAGE:
                    break
                if paging == "offset":
                    position = max(int(str(r[offset_field])) for r in batch)
                else:
                    position += 1
    text = "".join(json.dumps(record) + "\n" for record in records).encode()
    compressed = gzip.compress(text)
    if container is not None:
        container.upload_blob(blob_name, compressed, overwrite=True)
    return BaselineResult(len(records), calls, len(text), len(compressed), limited)

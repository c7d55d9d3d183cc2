"""The baseline: a Xero extractor as people usually write it.

Sequential requests, Xero's default page size (no `pageSize`, so 100 records a
page), stdlib `json` and `gzip`, and the whole file built in memory, then one
`upload_blob` per endpoint. Benchmarks run it side by side with oauth_etl.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass

import httpx
from azure.storage.blob import ContainerClient


@dataclass
class BaselineResult:
    records: int
    api_calls: int
    uncompressed_bytes: int
    compressed_bytes: int


def extract_endpoint(
    api_url: str,
    access_token: str,
    tenant_id: str,
    path: str,
    record_key: str,
    container: ContainerClient,
    blob_name: str,
) -> BaselineResult:
    headers = {
        "Authorization": f"Bearer {access_token}",
        "xero-tenant-id": tenant_id,
        "Accept": "application/json",
    }
    records: list[dict[str, object]] = []
    calls = 0
    with httpx.Client(base_url=api_url, headers=headers, timeout=60.0) as client:
        page = 1
        while True:
            response = client.get(f"/api.xro/2.0/{path}", params={"page": page})
            calls += 1
            response.raise_for_status()
            batch = json.loads(response.content)[record_key]
            records.extend(batch)
            if len(batch) < 100:
                break
            page += 1
    text = "".join(json.dumps(record) + "\n" for record in records).encode()
    compressed = gzip.compress(text)
    container.upload_blob(blob_name, compressed, overwrite=True)
    return BaselineResult(len(records), calls, len(text), len(compressed))

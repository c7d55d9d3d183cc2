"""Landing alone: `write_batch` into Azurite against one `upload_blob` of the same bytes.

The reference does the least work that lands the same data: the gzip JSON Lines
already built in memory, sent in one call. The ratio of the two times is what our
streaming (staged blocks, sha256, manifest, bounded memory) costs on top.
"""

import gzip
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from bench.common import BenchResult, Figure, MiB
from oauth_etl.storage.account import make_blob_service_client
from oauth_etl.storage.batch import LandingBatch
from oauth_etl.storage.writer import DEFAULT_COMPRESSION_LEVEL, write_batch
from oauth_etl_dev.local_services import start_azurite


def records(n: int) -> Iterator[dict[str, Any]]:
    """Invoice-like records of about 1 KB with some variety, as the sandbox serves."""
    for i in range(n):
        yield {
            "InvoiceID": str(uuid.UUID(int=i)),
            "InvoiceNumber": f"INV-{i:07d}",
            "Type": "ACCREC" if i % 3 else "ACCPAY",
            "Status": ("AUTHORISED", "PAID", "DRAFT")[i % 3],
            "Contact": {"ContactID": str(uuid.UUID(int=i % 997)), "Name": f"Customer {i % 997}"},
            "LineItems": [
                {
                    "Description": f"Item {j} for order {i}",
                    "Quantity": j + 1,
                    "UnitAmount": round(10.5 * (j + 1) + i % 100, 2),
                    "AccountCode": str(200 + j),
                    "TaxType": "OUTPUT",
                    "LineAmount": round((10.5 * (j + 1) + i % 100) * (j + 1), 2),
                }
                for j in range(1 + i % 4)
            ],
            "Total": round(123.45 + i % 1000, 2),
            "UpdatedDateUTC": f"/Date({1_700_000_000_000 + i * 1000}+0000)/",
        }


def run(quick: bool) -> BenchResult:
    n = 20_000 if quick else 200_000
    result = BenchResult("landing")
    azurite = start_azurite()
    try:
        service = make_blob_service_client(connection_string=azurite.connection_string)
        container = service.create_container(f"bench-landing-{uuid.uuid4().hex[:8]}")

        started = time.perf_counter()
        manifest = write_batch(
            container,
            LandingBatch(source="xero", endpoint="invoices", tenant_id="t", records=records(n)),
            prefix="",
            run_id="bench-landing",
        )
        ours = time.perf_counter() - started

        # The reference: the same bytes built in memory, then one call.
        started = time.perf_counter()
        body = gzip.compress(
            b"".join(orjson.dumps(r) + b"\n" for r in records(n)), DEFAULT_COMPRESSION_LEVEL
        )
        prepared = time.perf_counter() - started
        container.upload_blob("reference.jsonl.gz", body, overwrite=True)
        upload = time.perf_counter() - started - prepared
    finally:
        azurite.stop()
    raw = manifest.total_uncompressed_bytes
    result.figures += [
        Figure(
            "landing",
            f"landing {n:,} records into Azurite (write_batch, streaming)",
            round(n / ours),
            None,
            "rec/s",
            higher_is_better=True,
            note=f"{raw / MiB / ours:.0f} MiB/s of JSON lines, {len(manifest.parts)} part(s)",
        ),
        Figure(
            "landing",
            "landing time, streaming / the same bytes built in memory + one upload_blob",
            round(ours / (prepared + upload), 2),
            None,
            "x",
            note=f"write_batch (serialize, gzip, sha256, blocks, manifest) {ours:.2f} s; "
            f"in memory: build {prepared:.2f} s + upload_blob {upload:.2f} s "
            f"({ours / upload:.0f}x the upload alone)",
        ),
    ]
    return result

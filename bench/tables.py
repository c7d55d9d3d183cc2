"""Tables: merging landed invoices into Delta, against writing the same rows as Parquet.

One batch of sandbox invoices (line items included) is landed in Azurite per size. Each
measurement runs in a fresh interpreter (`python -m bench.tables worker ...`) that reads the
batch back from the landing layer and:
- `merge`: merges it into `invoices` + `invoice_line_items` (typed columns, dedupe, child
  replacement; rows spooled by bucket, then committed bucket group by bucket group);
- `incremental`: then, in an interpreter of its own (as the next Dagster run would be),
  merges a second batch that changes 10% of the invoices;
- `parquet`: converts the same records with pyarrow's own inference (`Table.from_pylist`,
  no typing, no dedupe, no children) and writes them as one Parquet file uploaded to the
  same container: the least work that lands the same rows in a columnar file.
Peak RSS (VmHWM) per size gives the growth from the smallest to the largest size; the
issue's goal is at most +100 MiB from 10k to 1M records. delta-rs reaches Azurite through
the startFrom relay (oauth_etl_dev/azurite_relay.py), a separate process not counted in RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.common import BenchResult, Figure
from bench.procfs import proc_mib
from oauth_etl.storage.batch import LandingBatch
from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.writer import write_batch
from oauth_etl_dev.local_services import PROJECT_ROOT, azurite_connection_string, start_azurite
from oauth_etl_dev.sandbox import data, gen_transactions

GROWTH_TARGET_MIB = 100.0
TENANT = "bench-tenant"
BASE_MS = 1_700_000_000_000
CHUNK = 20_000  # records per Parquet write of the plain baseline


def invoices(count: int, stamp_ms: int = BASE_MS, every: int = 1) -> Iterator[dict[str, Any]]:
    """Sandbox invoices 0, every, 2*every ... below `count`, stamped from `stamp_ms`."""
    context = data.TenantContext(11, 0, TENANT, TENANT, BASE_MS, count)
    rng = random.Random(11)
    for i in range(0, count, every):
        yield gen_transactions.gen_invoice(context, rng, i, stamp_ms + i)


def reset_peak_rss() -> None:
    """Start VmHWM afresh (Linux: `5` in /proc/self/clear_refs), to measure a second phase."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _container(connection_string: str, name: str) -> Any:
    from azure.storage.blob import ContainerClient

    return ContainerClient.from_connection_string(connection_string, name)


def _manifest(container: Any, location: str) -> Manifest:
    from oauth_etl.storage.reader import read_manifest

    return read_manifest(container, f"{location}/_manifest.json")


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Runs in a fresh interpreter: one implementation over the landed batches."""
    from oauth_etl.storage.reader import iter_records
    from oauth_etl.tables.location import TableStore, default_root, storage_options_provider
    from oauth_etl.tables.merge import merge_batches
    from oauth_etl.tables.model import table_spec

    # The connection string comes by environment, never on a command line `ps` shows.
    container = _container(os.environ["BENCH_STORAGE"], args.container)
    full = _manifest(container, args.batch)
    before = proc_mib("VmRSS")
    started = time.perf_counter()
    out: dict[str, Any] = {"rss_before_mib": before}
    if args.impl in ("merge", "incremental"):
        relay = azurite_connection_string(args.relay_port)
        store = TableStore(
            default_root(args.container), storage_options_provider(connection_string=relay)
        )
        if args.impl == "incremental":
            # Its own interpreter, as a Dagster run after the first load would be; the
            # asset's defaults (5,000-record chunks).
            changed = _manifest(container, args.changed)
            second = merge_batches(store, table_spec("invoices"), container, [changed])
            out["seconds"] = time.perf_counter() - started
            out["rows"] = second.parent.updated
            out["peak_rss_mib"] = proc_mib("VmHWM")
            return out
        first = merge_batches(store, table_spec("invoices"), container, [full])
        out["seconds"] = time.perf_counter() - started
        out["rows"] = first.parent.inserted
        out["lines"] = first.children["invoice_line_items"].inserted
        out["commits"] = first.parent.commits
        out["peak_rss_mib"] = proc_mib("VmHWM")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = 0
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "invoices.parquet"
            writer: pq.ParquetWriter | None = None
            chunk: list[dict[str, Any]] = []

            def flush() -> None:
                nonlocal writer
                table = pa.Table.from_pylist(chunk)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table.cast(writer.schema))
                chunk.clear()

            for record in iter_records(container, full):
                chunk.append(record)
                rows += 1
                if len(chunk) == CHUNK:
                    flush()
            if chunk:
                flush()
            if writer is not None:
                writer.close()
            with path.open("rb") as handle:
                container.upload_blob(f"parquet/{uuid.uuid4().hex}.parquet", handle)
        out["seconds"] = time.perf_counter() - started
        out["rows"] = rows
        out["peak_rss_mib"] = proc_mib("VmHWM")
    return out


def _run_worker(
    impl: str, storage: str, container: str, batches: dict[str, str], relay: int, timeout: float
) -> dict[str, Any]:
    argv = [
        sys.executable, "-m", "bench.tables", "worker", "--impl", impl,
        "--container", container, "--batch", batches["full"],
        "--changed", batches["changed"], "--relay-port", str(relay),
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, timeout=timeout, check=False, cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "BENCH_STORAGE": storage},
    )  # fmt: skip
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError(f"tables worker {impl} failed: " + "\n".join(tail))
    return dict(orjson.loads(done.stdout.strip().splitlines()[-1]))


def run(quick: bool, sizes: tuple[int, ...] | None = None) -> BenchResult:
    from azure.storage.blob import BlobServiceClient

    from oauth_etl_dev.azurite_relay import StartFromRelay

    sizes = sizes or ((2_000, 20_000) if quick else (10_000, 100_000, 1_000_000))
    result = BenchResult("tables")
    # Azurite holds everything in memory: the batches, the tables and their rewrites.
    azurite = start_azurite(extent_memory_limit_mb=max(2048, max(sizes) // 200))
    relay = StartFromRelay(azurite.port).start()
    peaks: dict[int, float] = {}
    incremental_peaks: dict[int, float] = {}
    try:
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        for size in sizes:
            name = f"bench-tables-{uuid.uuid4().hex[:8]}"
            container = service.create_container(name)
            full = write_batch(
                container,
                LandingBatch("xero", "invoices", TENANT, invoices(size)),
                prefix="",
                run_id="bench",
            )
            changed_records = invoices(size, BASE_MS + 86_400_000, every=10)
            changed = write_batch(
                container,
                LandingBatch("xero", "invoices", TENANT, changed_records),
                prefix="",
                run_id="bench",
            )
            batches = {"full": str(full.location), "changed": str(changed.location)}
            timeout = 300.0 + size / 200.0
            merged = _run_worker(
                "merge", azurite.connection_string, name, batches, relay.port, timeout
            )
            changes = _run_worker(
                "incremental", azurite.connection_string, name, batches, relay.port, timeout
            )
            merged["incremental_seconds"] = changes["seconds"]
            merged["incremental_rows"] = changes["rows"]
            merged["incremental_peak_rss_mib"] = changes["peak_rss_mib"]
            plain = _run_worker(
                "parquet", azurite.connection_string, name, batches, relay.port, timeout
            )
            peaks[size] = merged["peak_rss_mib"]
            incremental_peaks[size] = merged["incremental_peak_rss_mib"]
            rate = merged["rows"] / merged["seconds"]
            plain_rate = plain["rows"] / plain["seconds"]
            note = f"{merged['lines']:,} line items too; baseline: plain Parquet"
            figure = f"merge rows/s, first load of {size:,} invoices"
            result.figures.append(
                Figure(
                    "tables", figure, rate, plain_rate, "rows/s", higher_is_better=True, note=note
                )
            )
            result.lines.append(
                f"tables: {size:,} invoices merged in {merged['seconds']:.1f} s "
                f"({merged['commits']} commits, {merged['lines']:,} line items), "
                f"peak RSS {merged['peak_rss_mib']:.0f} MiB (after imports "
                f"{merged['rss_before_mib']:.0f}); 10% changed merged in "
                f"{merged['incremental_seconds']:.1f} s ({merged['incremental_rows']:,} updated, "
                f"peak {merged['incremental_peak_rss_mib']:.0f} MiB); "
                f"plain Parquet {plain['seconds']:.1f} s, peak {plain['peak_rss_mib']:.0f} MiB"
            )
            service.delete_container(name)
    finally:
        relay.stop()
        azurite.stop()
    if len(peaks) > 1:
        low, high = min(peaks), max(peaks)
        growth = peaks[high] - peaks[low]
        result.figures.append(
            Figure("tables", f"peak RSS growth {low:,} -> {high:,} records", growth, None, "MiB",
                   target=f"<= +{GROWTH_TARGET_MIB:.0f} MiB" if high >= 1_000_000 else "",
                   met=growth <= GROWTH_TARGET_MIB if high >= 1_000_000 else None,
                   note="first load (appends of new ids)")
        )  # fmt: skip
        growth = incremental_peaks[high] - incremental_peaks[low]
        result.figures.append(
            Figure("tables", f"peak RSS growth, 10% changed into {low:,} -> {high:,}", growth,
                   None, "MiB", note="merge into an existing table: delta-rs joins the target")
        )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tables")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("run", help="run at the given sizes and print the figures")
    bench.add_argument("sizes", nargs="*", type=int)
    work = sub.add_parser("worker")
    work.add_argument("--impl", choices=("merge", "incremental", "parquet"), required=True)
    for option in ("--container", "--batch", "--changed"):
        work.add_argument(option, required=True)
    work.add_argument("--relay-port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "worker":
        print(orjson.dumps(worker(args)).decode())
        return 0
    outcome = run(False, tuple(args.sizes) or None)
    for line in outcome.lines:
        print(line)
    for figure in outcome.figures:
        print(figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

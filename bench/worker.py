"""One extraction in a fresh process, for time and peak-memory figures.

`python -m bench.worker --impl ours|baseline --endpoint Invoices --url URL --tenant T
--container C` with the access token in BENCH_ACCESS_TOKEN and the storage connection
string in BENCH_STORAGE (never on the command line). Prints one JSON line: the run's
figures and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

import orjson

from bench.procfs import proc_mib
from bench.workload import BY_PATH, StaticBearer, as_dict, run_baseline, run_ours, unpaced_budget
from oauth_etl.storage.account import make_blob_service_client
from oauth_etl.xero.client import XeroClient


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: after fork+exec that can still
    report the parent's RSS at fork time (the parent here holds Dagster, ~200 MiB)."""
    return proc_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("--impl", choices=("ours", "baseline"), required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--container", required=True)
    args = parser.parse_args(argv)
    token = os.environ["BENCH_ACCESS_TOKEN"]
    container = make_blob_service_client(
        connection_string=os.environ["BENCH_STORAGE"]
    ).get_container_client(args.container)
    endpoint = BY_PATH[args.endpoint]
    before = peak_rss_mib()
    cpu = cpu_seconds()
    if args.impl == "ours":
        with XeroClient(args.url, StaticBearer(token), budget_factory=unpaced_budget) as client:
            result = run_ours(client, endpoint, args.tenant, container)
    else:
        result = run_baseline(args.url, token, endpoint, args.tenant, container)
    out = as_dict(result) | {
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": before,
        "cpu_seconds": cpu_seconds() - cpu,
    }
    sys.stdout.buffer.write(orjson.dumps(out) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m bench [--quick] [--only NAME ...]`: run the benchmarks, print one table,
write bench/results/latest.json and latest.md.

Each benchmark starts its own sandbox and Azurite on free loopback ports and stops them.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    calls,
    freshness,
    landing,
    memory,
    report,
    reports,
    runcost,
    smallrun,
    tables,
    tenants,
    throughput,
    token,
    walltime,
)
from bench.common import BenchResult

BENCHMARKS: dict[str, Callable[[bool], BenchResult]] = {
    "calls": calls.run,
    "walltime": walltime.run,
    "smallrun": smallrun.run,
    "throughput": throughput.run,
    "landing": landing.run,
    "memory": memory.run,
    "token": token.run,
    "tables": tables.run,
    "runcost": runcost.run,
    "tenants": tenants.run,
    "reports": reports.run,
    "freshness": freshness.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this (repeatable)"
    )
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    results: list[BenchResult] = []
    started = time.perf_counter()
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            result = BENCHMARKS[name](args.quick)
        except Exception as exc:
            traceback.print_exc()
            result = BenchResult(name, error=f"{type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - began
        print(f"[bench] {name} done in {result.seconds:.1f} s", file=sys.stderr, flush=True)
        results.append(result)
        # Written after every benchmark, so an interrupted run keeps what it measured.
        report.write(results, quick=args.quick, seconds=time.perf_counter() - started)
    seconds = time.perf_counter() - started
    report.write(results, quick=args.quick, seconds=seconds)
    print(report.text_table(results))
    for line in report.notes_of(results):
        print(f"  {line}")
    print(f"\n{seconds:.0f} s; written to {report.RESULTS / 'latest.json'} and latest.md")
    failed = any(r.error for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

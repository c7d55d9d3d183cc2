"""Figure 4: peak RSS of one extraction into Azurite, by size, each in a fresh process.

Endpoint: ManualJournals (page+pageSize like Invoices, and the cheapest records for the
sandbox to hold: the sandbox keeps every record as a dict and as bytes, ~5 GiB at 1M).
Ours runs without `order=UpdatedDateUTC ASC`: the sandbox re-sorts the whole table in
Python on every ordered request (O(N log N) per page: hours at 1M), while the pages,
their sizes and the client's memory are the same either way.
The baseline holds everything in memory by design; it runs up to 100k, and its growth
per record is reported, not extrapolated into a fake 1M figure.
"""

from __future__ import annotations

from bench.common import BenchResult, Figure, run_worker, stack, warm
from bench.procfs import proc_mib

ENDPOINT = "ManualJournals"
GROWTH_TARGET_MIB = 50.0
SANDBOX_BYTES_PER_RECORD = 5_600  # measured: ~54 MiB per 10k ManualJournals in the sandbox


def available_mib() -> float:
    return proc_mib("MemAvailable", "/proc/meminfo")


def run(quick: bool) -> BenchResult:
    sizes = (2_000, 20_000) if quick else (10_000, 100_000, 1_000_000)
    baseline_max = 20_000 if quick else 100_000
    result = BenchResult("memory")
    ours: dict[int, float] = {}
    base: dict[int, float] = {}
    for size in sizes:
        need = size * SANDBOX_BYTES_PER_RECORD / 1024 / 1024 * 1.5 + 1024
        if available_mib() < need:
            result.lines.append(
                f"memory: skipped {size:,}: {available_mib():.0f} MiB available, "
                f"the sandbox needs ~{need:.0f}"
            )
            continue
        with stack(["--records", str(size), "--no-limits"], label="mem") as s:
            tenant = s.tenants()[0]
            warm(s, tenant, ENDPOINT)
            container = s.new_container("mem").container_name
            timeout = 120.0 + size / 1000.0
            ran = run_worker(s, "ours", ENDPOINT, tenant, container, timeout)
            if ran["records"] != size:
                result.lines.append(f"WARNING: ours landed {ran['records']} of {size}")
            ours[size] = ran["peak_rss_mib"]
            result.lines.append(
                f"memory: ours {size:,} records in {ran['seconds']:.1f} s, "
                f"peak {ran['peak_rss_mib']:.0f} MiB (after imports {ran['rss_before_mib']:.0f})"
            )
            if size <= baseline_max:
                ran = run_worker(s, "baseline", ENDPOINT, tenant, container, timeout * 4)
                base[size] = ran["peak_rss_mib"]
        result.figures.append(
            Figure(
                "memory",
                f"peak RSS, {ENDPOINT} {size:,} records",
                round(ours[size], 1),
                round(base[size], 1) if size in base else None,
                "MiB",
                note="" if size in base else "baseline not run (holds all in memory)",
            )
        )
    if len(ours) >= 2:
        low, high = min(ours), max(ours)
        growth = ours[high] - ours[low]
        base_growth = ""
        if len(base) >= 2:
            b_low, b_high = min(base), max(base)
            b_delta = base[b_high] - base[b_low]
            base_growth = (
                f"; baseline {b_delta:+.0f} MiB from {b_low:,} to {b_high:,} "
                f"({b_delta / (b_high - b_low) * 1e4:.0f} MiB per 10k records)"
            )
        result.figures.append(
            Figure(
                "memory",
                f"peak RSS growth, ours {low:,} -> {high:,} records",
                round(growth, 1),
                None,
                "MiB",
                target=f"<= +{GROWTH_TARGET_MIB:g} MiB (10k -> 1M)",
                met=growth <= GROWTH_TARGET_MIB if high >= 1_000_000 else None,
                note="" if high >= 1_000_000 else "quick sizes: target applies to 10k -> 1M",
            )
        )
        result.lines.append(f"memory: ours {growth:+.0f} MiB from {low:,} to {high:,}{base_growth}")
    return result

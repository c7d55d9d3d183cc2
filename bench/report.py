"""The results table: printed, and written as JSON and Markdown under bench/results/."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.common import BenchResult, Figure

RESULTS = Path(__file__).resolve().parent / "results"
HEADERS = ("figure", "ours", "baseline", "ratio", "unit", "target", "met?")


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in load] if load else None,
    }


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def _met(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: ""}[figure.met]


def rows(results: list[BenchResult]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for result in results:
        for f in result.figures:
            ratio = f"{f.ratio:.2f}x" if f.ratio else ""
            out.append(
                (
                    f.figure,
                    _num(f.ours),
                    _num(f.baseline),
                    ratio,
                    f.unit,
                    f.target,
                    _met(f),
                )
            )
        if result.error:
            out.append((f"{result.name}: FAILED ({result.error[:80]})", "", "", "", "", "", "NO"))
    return out


def notes_of(results: list[BenchResult]) -> list[str]:
    out = [f"{f.figure}: {f.note}" for r in results for f in r.figures if f.note]
    return out + [line for result in results for line in result.lines]


def text_table(results: list[BenchResult]) -> str:
    table = [HEADERS, *rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(results: list[BenchResult], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    out = [
        f"Benchmarks ({'quick' if meta['quick'] else 'full'} run, {meta['date']}, "
        f"{meta['seconds']:.0f} s): {m['cpu']}, {m['cores']} cores, Python {m['python']}. "
        "Ratio = how many times better ours is than the baseline. "
        "Shared machine: timings are noisy.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for row in rows(results):
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    notes = notes_of(results)
    if notes:
        out += ["", *[f"- {line}" for line in notes]]
    return "\n".join(out) + "\n"


def write(results: list[BenchResult], *, quick: bool, seconds: float) -> dict[str, Any]:
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "seconds": round(seconds, 1),
        "machine": machine(),
    }
    document = meta | {
        "results": [
            {
                "name": r.name,
                "seconds": round(r.seconds, 1),
                "error": r.error,
                "figures": [f.__dict__ for f in r.figures],
                "notes": r.lines,
                "extra": r.extra,
            }
            for r in results
        ]
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_bytes(
        orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
    )
    (RESULTS / "latest.md").write_text(markdown(results, meta))
    return document

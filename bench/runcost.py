"""A run's fixed cost: CPU-seconds and peak RSS of the code location and of one real run.

Each figure is a fresh process (`bench/runcost_probe.py`), measured from outside by
`os.wait4` (CPU of the process and everything it waited for, its peak RSS) and from
inside by CPU marks at the phase boundaries:

- the interpreter alone; `import oauth_etl.definitions`; loading the definitions;
- `dagster asset materialize` of two assets x RECORDS records for one tenant (the CLI,
  in one process, as a run process does it) against the sandbox under Xero's real limits
  and Azurite, broken down into interpreter + imports, definitions load, run set-up
  until the first Xero call, and the extraction itself (first call to exit).

Across a hundred tenant runs this per-run cost, not Xero, is the bound (issue #15).
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from bench.common import CLIENT_ID, BenchResult, Figure, Stack, env_without_secrets, stack, warm
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl_dev.local_services import PROJECT_ROOT

RECORDS = 5_000
ASSETS = ("invoices", "contacts")
PATHS = ("Invoices", "Contacts")
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


@dataclass
class Measured:
    cpu_seconds: float  # the whole process, from RUSAGE_CHILDREN
    peak_rss_mib: float
    marks: dict[str, float]
    rss: dict[str, float]  # resident MiB at each mark

    def phase(self, start: str, end: str) -> float:
        """CPU-seconds between two marks; "exec" is the process's start."""
        return self.marks[end] - (0.0 if start == "exec" else self.marks[start])


def measure(mode: str, args: list[str], env: dict[str, str], timeout: float) -> Measured:
    """Run the probe in a fresh interpreter; its CPU and peak RSS as the kernel counts them."""
    with tempfile.TemporaryDirectory(prefix="runcost-") as scratch:
        out = Path(scratch) / "marks.json"
        argv = [sys.executable, "-m", "bench.runcost_probe", mode, *args]
        process = subprocess.Popen(
            argv,
            env=env | {"RUNCOST_OUT": str(out), "PYTHONPATH": str(PROJECT_ROOT)},
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-12:]
            raise RuntimeError(f"runcost {mode} failed ({process.returncode}):\n" + "\n".join(tail))
        found = json.loads(out.read_text())
    marks = {k: float(v) for k, v in found["marks"].items()}
    rss = {k: float(v) for k, v in found["rss"].items()}
    return Measured(marks["end"], float(found["peak_rss_mib"]), marks, rss)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(mode: str, args: list[str], env: dict[str, str], timeout: float) -> Measured:
    """`measure`, with the whole-process CPU (start-up and exit included) from the kernel."""
    before = children_cpu()
    result = measure(mode, args, env, timeout)
    result.cpu_seconds = children_cpu() - before
    return result


def run_env(s: Stack, container: str, home: Path) -> dict[str, str]:
    """The environment contract of a run process, pointed at this benchmark's stack."""
    return {
        "XERO_CLIENT_ID": CLIENT_ID,
        "XERO_CLIENT_SECRET": s.oauth.client_secret or "",
        "XERO_LOGIN_URL": s.url,
        "XERO_IDENTITY_URL": s.url,
        "XERO_API_URL": s.url,
        "OAUTH_ETL_TOKEN_STORE": f"file:{s.workdir / 'xero-token.json'}",
        "AZURE_STORAGE_CONNECTION_STRING": s.azurite.connection_string,
        "OAUTH_ETL_CONTAINER": container,
        "DAGSTER_HOME": str(home),
    }


def median_of(runs: list[Measured], phase: tuple[str, str] | None) -> float:
    if phase is None:
        return statistics.median(r.cpu_seconds for r in runs)
    return statistics.median(r.phase(*phase) for r in runs)


def with_bytecode(env: dict[str, str], cache: Path) -> dict[str, str]:
    """Compiled modules, as in the image (UV_COMPILE_BYTECODE): kept in `cache`, outside the
    virtualenv. Without them each process compiles every module it imports again."""
    kept = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return kept | {"PYTHONPYCACHEPREFIX": str(cache)}


def materialize(s: Stack, tenant: str, env: dict[str, str]) -> Measured:
    """One `dagster asset materialize` of ASSETS for `tenant` into a fresh container and
    instance (no cursor, so every run reads everything)."""
    container = s.new_container("runcost").container_name
    with tempfile.TemporaryDirectory(prefix="runcost-home-") as home:
        (Path(home) / "dagster.yaml").write_text(DAGSTER_YAML)
        with dg.DagsterInstance.from_config(home) as instance:
            # What the xero/tenants asset does before any tenant run.
            instance.add_dynamic_partitions(TENANTS.name, [tenant])
        args = [
            "asset",
            "materialize",
            "-m",
            "oauth_etl.definitions",
            "--select",
            ",".join(f"xero/{name}" for name in ASSETS),
            "--partition",
            tenant,
        ]
        found = measured("materialize", args, env | run_env(s, container, Path(home)), 600)
    landed = sum(
        1
        for blob in s.blob_service().get_container_client(container).list_blobs()
        if blob.name.endswith("_manifest.json")
    )
    if landed != len(ASSETS):
        raise RuntimeError(f"the run landed {landed} batches, not {len(ASSETS)}")
    return found


def run(quick: bool) -> BenchResult:
    repeats = 1 if quick else 3
    result = BenchResult("runcost")
    cache = Path(tempfile.mkdtemp(prefix="runcost-pycache-"))
    plain = with_bytecode(env_without_secrets(), cache)
    measured("defs", [], plain, 300)  # compiles what the definitions import; not counted
    bare = [measured("bare", [], plain, 60) for _ in range(repeats)]
    imports = [measured("import", [], plain, 120) for _ in range(repeats)]
    loads = [measured("defs", [], plain, 180) for _ in range(repeats)]
    runs: list[Measured] = []
    with stack(["--records", str(RECORDS), "--tenants", "1"], label="runcost") as s:
        tenant = s.tenants()[0]
        for path in PATHS:
            warm(s, tenant, path)  # the sandbox generates lazily: not ours to measure
        # Without bytecode, as a development install with PYTHONDONTWRITEBYTECODE runs.
        cold = materialize(s, tenant, env_without_secrets() | {"PYTHONDONTWRITEBYTECODE": "1"})
        materialize(s, tenant, plain)  # compiles the rest of what a run imports
        for _ in range(repeats):
            runs.append(materialize(s, tenant, plain))
    shutil.rmtree(cache, ignore_errors=True)
    interpreter = median_of(bare, None)
    rows = [
        ("interpreter alone (python -c pass)", interpreter, bare),
        ("import oauth_etl.definitions", median_of(imports, None), imports),
        ("import + load the definitions (defs())", median_of(loads, None), loads),
    ]
    for label, seconds, group in rows:
        result.figures.append(
            Figure(
                "runcost",
                f"{label}: CPU",
                round(seconds, 2),
                None,
                "CPU-s",
                note=f"peak RSS {statistics.median(r.peak_rss_mib for r in group):.0f} MiB",
            )
        )
    total = median_of(runs, None)
    peak = statistics.median(r.peak_rss_mib for r in runs)
    phases = [
        ("interpreter + imports", median_of(runs, ("exec", "defs_start")), "defs_start"),
        ("definitions load", median_of(runs, ("defs_start", "defs_end")), "defs_end"),
        (
            "run set-up until the first Xero call",
            median_of(runs, ("defs_end", "first_call")),
            "first_call",
        ),
        (
            "extraction and landing (first Xero call to the CLI's end)",
            median_of(runs, ("first_call", "end")),
            "end",
        ),
        (
            "interpreter exit",
            statistics.median(r.cpu_seconds - r.marks["end"] for r in runs),
            None,
        ),
    ]
    label = f"dagster asset materialize, {len(ASSETS)} assets x {RECORDS:,} records"
    result.figures += [
        Figure(
            "runcost",
            f"{label}: CPU",
            round(total, 2),
            None,
            "CPU-s",
            note=f"without bytecode (PYTHONDONTWRITEBYTECODE): {cold.cpu_seconds:.2f} CPU-s",
        ),
        Figure("runcost", f"{label}: peak RSS", round(peak, 1), None, "MiB"),
    ]
    result.figures += [
        Figure(
            "runcost",
            f"  of which {name}",
            round(seconds, 2),
            None,
            "CPU-s",
            note=f"RSS {statistics.median(r.rss[at] for r in runs):.0f} MiB at its end"
            if at
            else "",
        )
        for name, seconds, at in phases
    ]
    fixed = median_of(runs, ("exec", "first_call"))
    result.lines.append(
        f"runcost: {len(runs)} run(s), medians; fixed cost before the first Xero call "
        f"{fixed:.2f} CPU-s of {total:.2f} ({100 * fixed / total:.0f} %); interpreter start-up "
        f"is measured apart ({interpreter:.2f} CPU-s) and counted with the imports"
    )
    result.extra = {
        "runs": [r.__dict__ for r in runs],
        "cold": cold.__dict__,
        "imports": [r.__dict__ for r in imports],
        "loads": [r.__dict__ for r in loads],
    }
    return result


if __name__ == "__main__":
    figures = run("--quick" in sys.argv)
    for figure in figures.figures:
        print(f"{figure.figure:70} {figure.ours:>8} {figure.unit}  {figure.note}")
    for line in figures.lines:
        print(line)

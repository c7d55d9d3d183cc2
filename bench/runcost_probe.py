"""A run's fixed cost, from inside the process: CPU-seconds at each phase boundary.

`python -m bench.runcost_probe MODE [dagster CLI args]`, MODE one of
- `bare`: the interpreter alone;
- `import`: `import oauth_etl.definitions`;
- `defs`: that, then `oauth_etl.definitions.defs()` (what a code server does);
- `materialize`: `dagster <args>` (the CLI in this process, as a run process runs it).

Writes one JSON object to the file named by RUNCOST_OUT: CPU-seconds (user+sys, all
threads) at each mark and this process's peak RSS. Only the standard library is imported
before the measured work, so the probe adds nothing to what it measures.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import sys
from collections.abc import Callable
from typing import Any

from bench.procfs import proc_mib

marks: dict[str, float] = {}
resident: dict[str, float] = {}  # RSS (MiB) at each mark


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mark(name: str) -> None:
    if name not in marks:
        marks[name] = cpu()
        resident[name] = proc_mib("VmRSS")


def _report() -> None:
    mark("end")
    with open(os.environ["RUNCOST_OUT"], "w") as handle:
        json.dump({"marks": marks, "rss": resident, "peak_rss_mib": proc_mib("VmHWM")}, handle)


def _timed_load(load: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark("defs_start")
        try:
            return load(*args, **kwargs)
        finally:
            mark("defs_end")
            _watch_xero_calls()

    return wrapper


def _watch_xero_calls() -> None:
    """Mark the first Xero API call. Patched once the definitions have imported the client,
    so the probe never imports it earlier than the run would."""
    http = sys.modules.get("oauth_etl.xero.http")
    if http is None:
        return
    get = http.ApiHttp.get

    def timed_get(self: Any, *args: Any, **kwargs: Any) -> Any:
        mark("first_call")
        try:
            return get(self, *args, **kwargs)
        finally:
            marks["last_call"] = cpu()
            resident["last_call"] = max(resident.get("last_call", 0.0), proc_mib("VmRSS"))

    http.ApiHttp.get = timed_get


def main() -> int:
    mark("start")  # the interpreter's start-up, before any of our imports
    mode, args = sys.argv[1], sys.argv[2:]
    atexit.register(_report)
    if mode == "bare":
        return 0
    import oauth_etl.definitions as definitions

    mark("imports")
    if mode == "import":
        return 0
    if mode == "defs":
        definitions.defs()
        mark("defs_end")
        return 0
    from dagster._cli import main as dagster_main

    mark("cli_imports")
    definitions.load_defs = _timed_load(definitions.load_defs)  # type: ignore[attr-defined]
    sys.argv = ["dagster", *args]
    try:
        dagster_main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

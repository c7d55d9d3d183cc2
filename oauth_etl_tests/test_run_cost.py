"""A run's fixed cost stays cut: what the code location builds and imports (issue #15).

Every tenant run is a process that imports Dagster and loads the definitions before its
first Xero call; across a hundred tenants that fixed cost, not Xero, bounds the day. The
figures are in bench/runcost.py; these tests pin the cuts.
"""

import json
import subprocess
import sys

from oauth_etl_dev.local_services import PROJECT_ROOT

# Never needed to load the code location or run an extraction: the UI, the development
# services, the production token store's SDK (a file store here) and test/bench tools.
NOT_IN_A_RUN = (
    "dagster_webserver",
    "oauth_etl_dev",
    "starlette",
    "uvicorn",
    "azure.identity",
    "azure.keyvault",
    "pyinstrument",
    "psutil",
    "hypothesis",
    "pytest",
)

PROBE = """
import gc, json, sys
thresholds = gc.get_threshold()
import oauth_etl.definitions as definitions
first = definitions.defs()
heavy = %r
prefixes = tuple(h + "." for h in heavy)
print(json.dumps({
    "same": definitions.defs() is first,
    "frozen": gc.get_freeze_count(),
    "thresholds_restored": gc.get_threshold() == thresholds,
    "loaded": sorted(m for m in sys.modules if m in heavy or m.startswith(prefixes)),
}))
"""


def load_in_fresh_process() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (NOT_IN_A_RUN,)],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "OAUTH_ETL_TOKEN_STORE": "file:/nonexistent/t.json"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_process_builds_the_definitions_once_and_imports_nothing_a_run_does_not_need() -> None:
    result = load_in_fresh_process()
    # A run process asks for the definitions six times; each load used to walk the defs tree.
    assert result["same"] is True
    # What the load built lives as long as the process: no later collection (nor the
    # interpreter's exit) walks it again.
    assert isinstance(result["frozen"], int) and result["frozen"] > 10_000
    # Full collections paused during the load are back once it is built.
    assert result["thresholds_restored"] is True
    assert result["loaded"] == []

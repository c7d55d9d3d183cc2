"""No logic written twice: `duplicates` (the workplace's tool: CI has it, a user's machine
may not) lists only the pairs below, each a kind of repetition that is not logic: data
rows, declarations, or calls of one helper that differ only in their arguments. A pair of
identical lines is never accepted; a new shape-alike pair is either made one piece of code
or, when it is one of those kinds, added here with its reason."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^D\d+ (?P<a>\S+):\d+-\d+ ~ (?P<b>\S+):\d+-\d+(?P<notes>.*)$")

# Shape-alike pairs (not identical lines) that are not logic, by folder and file pair.
ACCEPTED: dict[str, dict[frozenset[str], str]] = {
    "oauth_etl": {
        frozenset({"app/variables.py"}): "data: rows of the environment contract",
        frozenset({"xero/errors.py"}): "declarations: exception constructors, each its message",
        frozenset({"defs/maintenance.py", "defs/tables/upkeep.py"}): (
            "two calls of one helper (running_schedule), each its own job and cron"
        ),
        frozenset({"defs/tables/batches.py", "xero/http.py"}): (
            "keyword calls of two unrelated functions (list_batches, RateLimited)"
        ),
        frozenset({"defs/reports/assets.py", "defs/reports/organisation.py"}): (
            "declarations: the @dg.asset decorators of one landing group, each its own asset"
        ),
        frozenset({"defs/reports/jobs.py", "defs/tables/upkeep.py"}): (
            "declarations: two tenant-partitioned asset jobs, each its own selection"
        ),
        frozenset({"defs/reports/tables.py", "defs/tables/assets.py"}): (
            "declarations: the @dg.multi_asset decorators of two table groups"
        ),
        frozenset({"defs/reports/tables.py"}): (
            "declarations: the AssetSpecs of a report's long table and its monthly view"
        ),
        frozenset({"cli/table.py", "xero/extraction.py"}): (
            "keyword calls of two unrelated functions (TableStore.for_account, Progress)"
        ),
        frozenset({"cli/run.py", "cli/table.py"}): "declarations: click options of two commands",
    },
    "bench": {
        frozenset({"smallrun.py", "walltime.py"}): "data: Figure rows of two benchmarks",
        frozenset({"throughput.py"}): "data: Figure rows",
        frozenset({"reports.py"}): "data: Figure rows",
        frozenset({"runcost.py", "walltime.py"}): "data: Figure rows of two benchmarks",
    },
}


def pairs(folder: str) -> list[tuple[frozenset[str], str, str]]:
    """(files, notes, row) for each pair `duplicates` lists in `folder`."""
    result = subprocess.run(
        ["duplicates", "--repo", folder, "--most", "200", "--seconds", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=330,
        check=False,
    )
    lines = result.stdout.splitlines()
    incomplete = [line for line in lines if line.startswith("incomplete:")]
    assert incomplete == [], result.stdout + result.stderr
    found = []
    for line in lines:
        match = ROW.match(line)
        if match:
            found.append((frozenset({match["a"], match["b"]}), match["notes"], line))
    return found


@pytest.mark.skipif(shutil.which("duplicates") is None, reason="`duplicates` is not installed")
@pytest.mark.parametrize("folder", sorted(ACCEPTED))
def test_only_accepted_repetition(folder: str) -> None:
    unexplained = []
    for files, notes, row in pairs(folder):
        # The tool marks thin shared shapes (punctuation, keywords, a folder's common
        # signature) as boilerplate: nothing to make one.
        if "boilerplate" in notes:
            continue
        if "shape" in notes and files in ACCEPTED[folder]:
            continue
        unexplained.append(row)
    assert unexplained == [], "logic written twice: make it one piece (or see the docstring)"

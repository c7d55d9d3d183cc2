"""Rows for the README's fault table: one JSON line per fault a test tried.

`OAUTH_ETL_FAULTS_LOG=path pytest oauth_etl_tests/reliability` collects them; without the
variable, `record` does nothing. Tests pass values computed from what they asserted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import filelock
import orjson

ENV_VAR = "OAUTH_ETL_FAULTS_LOG"


def record(fault: str, trials: int, outcome: str, lost: str) -> None:
    """Append {fault, trials, outcome, lost, recorded_at} to $OAUTH_ETL_FAULTS_LOG, if set."""
    target = os.environ.get(ENV_VAR)
    if not target:
        return
    path = Path(target)
    row = {
        "fault": fault,
        "trials": trials,
        "outcome": outcome,
        "lost": lost,
        "recorded_at": time.time(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Parallel test processes (xdist, several suites) may append at once.
    with filelock.FileLock(str(path) + ".lock", timeout=30), path.open("ab") as handle:
        handle.write(orjson.dumps(row) + b"\n")

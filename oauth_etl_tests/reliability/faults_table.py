"""`make faults-table`: run the reliability suite and write its fault table into the README.

Each test of `oauth_etl_tests/reliability` records the faults it tried (see
`faults_log.record`); this runs them with the log on, groups the rows by fault and
replaces the table between the README's markers. The table is never edited by hand.
"""

import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import orjson

from oauth_etl_dev.local_services import PROJECT_ROOT
from oauth_etl_tests.reliability.faults_log import ENV_VAR

README = PROJECT_ROOT / "README.md"
START = "<!-- faults-table:start -->"
END = "<!-- faults-table:end -->"


def collect(log: Path) -> str:
    rows: dict[str, dict[str, object]] = {}
    trials: dict[str, int] = defaultdict(int)
    for line in log.read_bytes().splitlines():
        row = orjson.loads(line)
        fault = str(row["fault"])
        trials[fault] += int(row["trials"])
        rows[fault] = row  # outcome and loss of the last run of that fault
    lines = ["| fault | trials | outcome | lost |", "|---|---:|---|---|"]
    for fault in sorted(rows):
        row = rows[fault]
        lines.append(f"| {fault} | {trials[fault]} | {row['outcome']} | {row['lost']} |")
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        log = Path(workdir) / "faults.jsonl"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "oauth_etl_tests/reliability"],
            cwd=PROJECT_ROOT,
            env={**os.environ, ENV_VAR: str(log)},
            check=False,
        )
        if result.returncode != 0:
            print("the reliability suite failed: the README table was not changed")
            return result.returncode
        table = collect(log)
    text = README.read_text()
    if START not in text or END not in text:
        print(f"README.md lacks the markers {START} / {END}")
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(f"wrote {table.count(chr(10)) - 1} faults into README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

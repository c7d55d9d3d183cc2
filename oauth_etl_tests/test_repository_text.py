"""No comment, docstring, message or document of the repository names a path outside it:
a reader on another machine must be able to follow every reference. Xero's specs are
vendored (specs/xero-openapi/); a fact cites its primary source (a Xero docs URL, a spec
operation, a maintainer's answer), or says that only third parties report it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape("/" + "work/"),  # the workplace's folders
            r"\b" + re.escape("XERO" + ".md") + r"\b",  # notes kept beside the repository
            re.escape("shared" + "/xero-openapi"),
            r"\b" + re.escape("DESIGN" + ".md") + r"\b",  # the design notes beside it
        ]
    )
)


def repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name})


def hits() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in repository_files():
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the working tree
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary (images)
        lines = [
            f"{number}: {line.strip()}"
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1)
            if OUTSIDE.search(line)
        ]
        if lines:
            found[name] = lines
    return found


def test_no_file_names_a_path_outside_the_repository() -> None:
    found = hits()
    assert found == {}, "paths outside the repository (cite the primary source instead)"


def test_the_pattern_catches_what_it_is_for() -> None:
    for text in (
        "see /" + "work/shared/notes",
        "(XERO" + ".md, Rate limits)",
        "shared" + "/xero-openapi",
    ):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("specs/xero-openapi/xero_accounting.yaml")

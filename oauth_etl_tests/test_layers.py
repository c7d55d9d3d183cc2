"""The layers hold by construction: the import contracts of pyproject.toml
(`[tool.importlinter]`) are kept, and docs/architecture.md's layer table names exactly
the packages there are, in the contract's order."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# A row for a package another branch adds: allowed while the package is absent.
PENDING = "(pending merge"


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def layer_rows() -> list[tuple[str, str]]:
    """(path, what it is) for each row of the table under `## Layers`."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.match(r"\|\s*`(oauth_etl[^`]*)`\s*\|([^|]*)\|", line)
        if match:
            rows.append((match.group(1), match.group(2).strip()))
    return rows


def test_every_package_has_a_row_and_every_row_exists() -> None:
    rows = layer_rows()
    named = {path for path, _ in rows}
    packages = {
        f"oauth_etl/{init.parent.name}/" for init in (ROOT / "oauth_etl").glob("*/__init__.py")
    }
    assert packages - named == set(), "packages without a row in docs/architecture.md"
    for path, what in rows:
        exists = (ROOT / path).exists()
        if what.startswith(PENDING):
            assert not exists, f"{path} exists now: drop its '(pending merge)' mark"
        else:
            assert exists, f"docs/architecture.md names {path}, which does not exist"


def test_table_lists_the_layers_in_the_contract_order() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    order = [name.strip() for layer in layers for name in layer.split("|")]

    def module(path: str) -> str:
        return path.removesuffix("/").removesuffix(".py").replace("/", ".")

    in_table = [module(path) for path, _ in layer_rows() if module(path) in order]
    assert in_table == order


def test_contributing_names_every_test_folder() -> None:
    """docs/CONTRIBUTING.md says where each kind of test lives: no folder left out."""
    text = (ROOT / "docs" / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("## Where the tests live", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"[a-z_]+", table))
    folders = {p.parent.name for p in (ROOT / "oauth_etl_tests").glob("*/__init__.py")}
    assert folders - named == set(), "test folders the CONTRIBUTING table does not name"

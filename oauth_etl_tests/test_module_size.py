"""No module over 400 lines: a module that long does more than one job, and a reader
should be able to hold any one of them in mind. The bound covers the shipped package,
the development tools (sandbox, demo) and the benchmarks; the tests are exempt."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("oauth_etl", "oauth_etl_dev", "bench")
MAX_LINES = 400


def modules() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def test_the_folders_hold_modules() -> None:
    # An empty walk (a moved folder) would pass the bound below without reading anything.
    for folder in FOLDERS:
        assert any((ROOT / folder).rglob("*.py")), f"{folder}/ has no modules"


def test_every_module_is_at_most_400_lines() -> None:
    too_long = {
        str(module.relative_to(ROOT)): lines
        for module in modules()
        if (lines := len(module.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these by job (at most {MAX_LINES} lines each)"

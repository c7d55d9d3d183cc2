"""The Dagster side of `list cursors` and `run` (`oauth_etl.defs.commands`), imported by
name when one of them runs: the command line itself never imports Dagster."""

from __future__ import annotations

import importlib
from types import ModuleType

from oauth_etl.cli.base import fail

DAGSTER_SIDE = "oauth_etl.defs.commands"


def commands() -> ModuleType:
    try:
        return importlib.import_module(DAGSTER_SIDE)
    except ImportError as exc:
        if exc.name and exc.name.startswith("oauth_etl"):
            raise
        fail(
            f"this command runs through Dagster, and {exc.name} is not installed",
            "install oauth-etl with its dependencies (`uv sync` or `pip install oauth-etl`)",
        )

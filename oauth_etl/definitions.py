"""The oauth_etl code location: everything under `oauth_etl/defs/`, autoloaded.

`dg` finds the same tree through `[tool.dg.project] defs_module` in pyproject.toml.
"""

from pathlib import Path

import dagster as dg
from dagster.components import load_defs

import oauth_etl.defs


@dg.definitions
def defs() -> dg.Definitions:
    # `load_from_defs_folder` locates the project by its pyproject.toml, which an
    # installed wheel (the deployment image) does not have: load the package itself.
    return load_defs(defs_root=oauth_etl.defs, project_root=Path(__file__).resolve().parent.parent)

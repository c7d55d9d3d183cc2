"""The oauth_etl code location: everything under `oauth_etl/defs/`, autoloaded.

`dg` finds the same tree through `[tool.dg.project] defs_module` in pyproject.toml.
"""

import functools
import gc
from pathlib import Path

import dagster as dg
from dagster.components import load_defs

import oauth_etl.defs
from oauth_etl.storage.collector import oldest_generation_paused


@dg.definitions
def defs() -> dg.Definitions:
    return _loaded()


@functools.cache
def _loaded() -> dg.Definitions:
    """Built once per process. A run process asks for the definitions six times (the CLI
    resolves the target, then the job, plan and steps each reconstruct the repository);
    each load walks the whole defs tree again (~0.3 CPU-s apiece). A code server that
    reloads starts a new process, so it still sees new code.

    Full collections wait while it builds (each would walk every object built so far),
    and what it built is then frozen: it lives as long as the process, so no later
    collection, nor the interpreter's exit, walks it again (bench/runcost.py)."""
    # `load_from_defs_folder` locates the project by its pyproject.toml, which an
    # installed wheel (the deployment image) does not have: load the package itself.
    with oldest_generation_paused():
        loaded = load_defs(
            defs_root=oauth_etl.defs, project_root=Path(__file__).resolve().parent.parent
        )
    gc.freeze()
    return loaded

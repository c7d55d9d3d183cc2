"""The oauth_etl code location: everything under `oauth_etl/defs/`, autoloaded.

`dg` finds the same tree through `[tool.dg.project] defs_module` in pyproject.toml.
"""

import functools
import gc
import os
from pathlib import Path

import dagster as dg
from dagster.components import load_defs

import oauth_etl.defs
from oauth_etl.storage.collector import oldest_generation_paused


@dg.definitions
def defs() -> dg.Definitions:
    # Which resources are bound depends on which variables are set (defs/resources.py):
    # definitions are kept per environment, so a changed environment gets its own.
    return _loaded(frozenset(os.environ.items()))


@functools.lru_cache(maxsize=4)
def _loaded(environment: frozenset[tuple[str, str]]) -> dg.Definitions:
    """Built once per process (and environment). A run process asks for the definitions
    six times (the CLI resolves the target, then the job, plan and steps each reconstruct
    the repository); each load walked the whole defs tree again (~0.3 CPU-s apiece). A
    code server that reloads starts a new process, so it still sees new code.

    Full collections wait while it builds (each would walk every object built so far),
    and the first load is then frozen: it lives as long as the process, so no later
    collection, nor the interpreter's exit, walks it again (bench/runcost.py)."""
    # `load_from_defs_folder` locates the project by its pyproject.toml, which an
    # installed wheel (the deployment image) does not have: load the package itself.
    with oldest_generation_paused():
        loaded = load_defs(
            defs_root=oauth_etl.defs, project_root=Path(__file__).resolve().parent.parent
        )
    if _loaded.cache_info().currsize == 0:
        # Only the first: later loads (tests changing the environment) may be evicted, and
        # frozen objects would never be collected.
        gc.freeze()
    return loaded

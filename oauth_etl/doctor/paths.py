"""What is wrong with a file path doctor could not use (a token store, its lock), and its
fix: a part of the path that is a file, a folder this user may not write."""

from __future__ import annotations

import os
from pathlib import Path

from oauth_etl.doctor.settings import TOKEN_STORE_VAR


def path_problem(path: Path, exc: OSError) -> str:
    """What stops a file at `path` being made: a part of it that is a file, a folder this
    user may not write, or the system's own words."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"this user may not create or write in {parent}"
            break
    return exc.strerror or "the folder cannot be created"


def path_fix(why: str, folder: Path, because: str) -> str:
    """The fix for `path_problem`'s answer `why` about `folder` (`because`: why it is used)."""
    if why.endswith("is a file, not a folder"):
        blocker = why.removesuffix(" is a file, not a folder")
        return (
            f"point {TOKEN_STORE_VAR} at a file whose folders are folders ({because}), or "
            f"move the file {blocker} away"
        )
    return (
        f"give this user write access to {folder} ({because}), or point {TOKEN_STORE_VAR} elsewhere"
    )

"""A small Dockerfile reader: enough to check deploy/Dockerfile and replay its uv steps.

There is no Docker engine on the test machines, so the tests replay what can be
replayed (COPY of build-context files, WORKDIR, ENV, the `uv sync` RUN steps) in a
temp directory that plays the image's filesystem.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, COPY, RUN, ...
    args: str  # the rest of the logical line, continuations joined


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    dest: str
    from_stage: str | None


def parse(text: str) -> list[Instruction]:
    """Logical instructions: comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    if pending:
        raise ValueError("Dockerfile ends inside a continued line")
    return instructions


def parse_copy(instruction: Instruction) -> Copy:
    words = shlex.split(instruction.args)
    from_stage = None
    paths: list[str] = []
    for word in words:
        if word.startswith("--from="):
            from_stage = word.removeprefix("--from=")
        elif word.startswith("--"):
            continue  # --chown, --chmod, --link: no effect on what is copied
        else:
            paths.append(word)
    if len(paths) < 2:
        raise ValueError(f"COPY needs a source and a destination: {instruction.args!r}")
    return Copy(tuple(paths[:-1]), paths[-1], from_stage)


def parse_env(instruction: Instruction) -> dict[str, str]:
    """ENV in the KEY=VALUE form (the legacy `ENV KEY VALUE` form is not used here)."""
    env: dict[str, str] = {}
    for word in shlex.split(instruction.args):
        key, sep, value = word.partition("=")
        if not sep:
            raise ValueError(f"use ENV KEY=VALUE: {instruction.args!r}")
        env[key] = value
    return env


def exec_form(instruction: Instruction) -> list[str]:
    """CMD/ENTRYPOINT in JSON (exec) form."""
    value = json.loads(instruction.args)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{instruction.keyword} is not in exec form: {instruction.args!r}")
    return value


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    if not starts:
        raise ValueError("no FROM")
    return instructions[starts[-1] :]


def resolve_dest(dest: str, workdir: str) -> str:
    return dest if dest.startswith("/") else str(Path(workdir) / dest)


def read(path: Path) -> list[Instruction]:
    return parse(path.read_text())

"""deploy/Dockerfile: its shape, and its dependency steps replayed for real with uv."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from . import dockerfile
from ._config import DOCKERFILE, DOCKERIGNORE, HELM_VALUES, PROD_INSTANCE, ROOT, load_yaml

UV_SYNC_TIMEOUT_SECONDS = 240


def _final() -> list[dockerfile.Instruction]:
    return dockerfile.final_stage(dockerfile.read(DOCKERFILE))


def _context_copies() -> list[dockerfile.Copy]:
    return [
        copy
        for copy in (dockerfile.parse_copy(i) for i in _final() if i.keyword == "COPY")
        if copy.from_stage is None
    ]


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, enough for this file: last matching pattern wins."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(path, bare.replace("**", "*")):
            ignored = not negate
    return ignored


def test_final_stage_is_python_311_slim_non_root_code_server() -> None:
    final = _final()
    assert final[0].args.split()[0] == "python:3.11-slim"
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    cmd = dockerfile.exec_form(next(i for i in final if i.keyword == "CMD"))
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[cmd.index("-m") + 1] == "oauth_etl.definitions"
    port = cmd[cmd.index("-p") + 1]
    assert any(i.keyword == "EXPOSE" and i.args.split() == [port] for i in final)
    # The chart passes its own args: an ENTRYPOINT would swallow them.
    assert not any(i.keyword == "ENTRYPOINT" for i in final)
    helm = load_yaml(HELM_VALUES)
    (deployment,) = helm["dagster-user-deployments"]["deployments"]
    assert str(deployment["port"]) == port
    assert deployment["codeServerArgs"] == ["-m", "oauth_etl.definitions"]


def test_copied_files_exist_and_are_not_dockerignored() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = _context_copies()
    sources = [src for copy in copies for src in copy.sources]
    assert {"pyproject.toml", "uv.lock", "oauth_etl/"} <= set(sources)
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: not in the build context"
        assert not _ignored(src.rstrip("/"), patterns), f"COPY {src}: excluded by {DOCKERIGNORE}"
    # The secrets and bulk a build context must not carry.
    for path in (".venv", "node_modules", ".oauth_etl/xero-token.json", ".git", "bench"):
        assert _ignored(path, patterns), f"{path} would be sent to the Docker daemon"


def _uv() -> str:
    """The uv the Makefile uses (installed into .tools/ when the machine has none)."""
    uv = os.environ.get("OAUTH_ETL_UV") or shutil.which("uv")
    if not uv or not Path(uv).is_file():
        pytest.fail("uv not found: run the tests with `make test`, which installs it (make deps)")
    return uv


def _stage_and_sync(image_root: Path) -> tuple[dict[str, str], Path]:
    """Replay COPY/WORKDIR/ENV and the `uv sync` RUN steps with image_root as `/`."""
    workdir = "/"
    env: dict[str, str] = {}
    uv_runs = 0
    for instruction in _final():
        if instruction.keyword == "WORKDIR":
            workdir = dockerfile.resolve_dest(instruction.args, workdir)
            (image_root / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "ENV":
            env.update(dockerfile.parse_env(instruction))
        elif instruction.keyword == "COPY":
            copy = dockerfile.parse_copy(instruction)
            if copy.from_stage is not None:
                continue  # the uv binary: this machine's uv stands in for it
            dest = image_root / dockerfile.resolve_dest(copy.dest, workdir).lstrip("/")
            for src in copy.sources:
                source = ROOT / src
                if source.is_dir():
                    shutil.copytree(
                        source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                    )
                else:
                    dest.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, dest / source.name)
        elif instruction.keyword == "RUN" and instruction.args.startswith("uv sync"):
            venv = image_root / env["UV_PROJECT_ENVIRONMENT"].lstrip("/")
            run_env = {
                **os.environ,
                **env,
                "UV_PROJECT_ENVIRONMENT": str(venv),
                # Speed, not semantics: bytecode and copies matter in the image only.
                "UV_COMPILE_BYTECODE": "0",
                "UV_LINK_MODE": "hardlink",
                "UV_PYTHON": getattr(sys, "_base_executable", sys.executable),  # .venv's 3.11
                "PATH": os.environ["PATH"],
            }
            run_env.pop("VIRTUAL_ENV", None)
            command = instruction.args.split()
            result = subprocess.run(
                [_uv(), *command[1:]],
                cwd=image_root / workdir.lstrip("/"),
                env=run_env,
                capture_output=True,
                text=True,
                timeout=UV_SYNC_TIMEOUT_SECONDS,
                check=False,
            )
            assert result.returncode == 0, f"{instruction.args} failed:\n{result.stderr[-3000:]}"
            uv_runs += 1
    assert uv_runs == 2, "expected a dependency-only uv sync and a project uv sync"
    return env, image_root / env["UV_PROJECT_ENVIRONMENT"].lstrip("/")


@pytest.mark.timeout(2 * UV_SYNC_TIMEOUT_SECONDS + 60)
def test_uv_steps_install_the_locked_runtime_without_dev_deps(tmp_path: Path) -> None:
    _, venv = _stage_and_sync(tmp_path / "image")
    python = venv / "bin" / "python"
    instance = tmp_path / "instance.yaml"
    shutil.copy(PROD_INSTANCE, instance)
    probe = textwrap.dedent(
        f"""
        import importlib.util, pathlib, sys
        import yaml
        import oauth_etl, oauth_etl.definitions
        # Installed into the venv (non-editable), not read from the repository.
        installed = pathlib.Path(oauth_etl.__file__)
        assert installed.is_relative_to(pathlib.Path(sys.prefix)), installed
        for dev_only in (
            "pytest", "mypy", "ruff", "hypothesis",
            "dagster_webserver", "oauth_etl_dev", "oauth_etl.sandbox",
        ):
            assert importlib.util.find_spec(dev_only) is None, dev_only + " is in the image"
        # The webhooks extra: the same image runs the webhook receiver.
        import oauth_etl.webhooks.receiver, uvicorn, azure.storage.queue  # noqa: F401
        # dagster-k8s is importable in the image: check the launcher config against it.
        from dagster._config import process_config
        from dagster._config.field_utils import convert_potential_field
        from dagster_k8s import K8sRunLauncher
        import dagster_postgres  # noqa: F401
        launcher = yaml.safe_load(pathlib.Path({str(instance)!r}).read_text())["run_launcher"]
        assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
        schema = convert_potential_field(K8sRunLauncher.config_type()).config_type
        result = process_config(schema, launcher["config"])
        assert result.success, result.errors
        print("ok", len(oauth_etl.definitions.defs().resolve_asset_graph().get_all_asset_keys()))
        """
    )
    result = subprocess.run(
        [str(python), "-c", probe],
        cwd=tmp_path,  # not the repository: `import oauth_etl` must find the installed copy
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok ")
    assert int(result.stdout.split()[1]) > 20  # the Xero endpoint assets
    console = subprocess.run(
        [str(venv / "bin" / "oauth-etl"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert console.returncode == 0, console.stderr[-2000:]
    # The development commands are listed, and say what they need instead of failing.
    sandbox = subprocess.run(
        [str(venv / "bin" / "oauth-etl"), "sandbox", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert sandbox.returncode == 1 and "development install" in sandbox.stderr, sandbox.stderr
    assert "Traceback" not in sandbox.stderr

"""Paths and loaders shared by the deploy tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROD_INSTANCE = DEPLOY / "dagster.yaml"
LOCAL_INSTANCE = ROOT / "dagster.yaml"
HELM_VALUES = DEPLOY / "helm" / "values.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
DEPLOY_README = DEPLOY / "README.md"


def load_yaml(path: Path) -> Any:
    with path.open() as fh:
        return yaml.safe_load(fh)


def without_k8s_launcher(instance_config: dict[str, Any]) -> dict[str, Any]:
    """The production instance minus the Kubernetes run launcher.

    Everything else (Postgres storage, queue, pools, retries, monitoring) stays as
    deployed, so a test on this machine exercises the same settings; Dagster falls
    back to its default launcher (a subprocess per run).
    """
    return {key: value for key, value in instance_config.items() if key != "run_launcher"}

"""The Dagster instance of the current environment, created on first use inside the data dir."""

from __future__ import annotations

import shutil

import dagster as dg

from mesh_platform.environment import MeshEnvironment, apply_tool_env


def ensure_dagster_home(env: MeshEnvironment) -> None:
    """Create ``$DAGSTER_HOME`` with the environment's ``dagster.yaml`` (telemetry off)."""
    env.dagster_home.mkdir(parents=True, exist_ok=True)
    target = env.dagster_home / "dagster.yaml"
    source = env.repo_root / "infra" / f"dagster.{env.name}.yaml"
    if not source.exists():
        raise FileNotFoundError(
            f"no Dagster instance settings for environment {env.name!r}: {source}"
        )
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)


def get_instance() -> dg.DagsterInstance:
    env = apply_tool_env()
    ensure_dagster_home(env)
    return dg.DagsterInstance.from_config(str(env.dagster_home))

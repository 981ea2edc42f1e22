"""The Dagster instance of the current environment, created on first use inside the data dir."""

from __future__ import annotations

import fcntl
from typing import TYPE_CHECKING

from mesh_platform.core.environment import MeshEnvironment, apply_tool_env

if TYPE_CHECKING:
    import dagster as dg

HOME_PLACEHOLDER = "${DAGSTER_HOME}"


def ensure_dagster_home(env: MeshEnvironment) -> None:
    """Create ``$DAGSTER_HOME`` with the environment's ``dagster.yaml`` (telemetry off).

    ``${DAGSTER_HOME}`` in the file becomes the home's absolute path: Dagster's config has no
    way to name a directory relative to the instance (only a whole environment variable), and
    tools that open the instance by its directory do not set ``DAGSTER_HOME``.
    """
    env.dagster_home.mkdir(parents=True, exist_ok=True)
    target = env.dagster_home / "dagster.yaml"
    source = env.repo_root / "infra" / f"dagster.{env.name}.yaml"
    if not source.exists():
        raise FileNotFoundError(
            f"no Dagster instance settings for environment {env.name!r}: {source}"
        )
    text = source.read_text().replace(HOME_PLACEHOLDER, str(env.dagster_home.resolve()))
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def get_instance() -> dg.DagsterInstance:
    """The instance; processes opening it at once (a pool's workers) take turns, so that only
    one creates its SQLite storage on first use.

    Dagster is imported here, not at module level: ``mesh dev`` only writes the home and
    starts ``dagster dev``, which imports Dagster itself (≈ 1 s less before it starts)."""
    import dagster as dg

    env = apply_tool_env()
    env.dagster_home.mkdir(parents=True, exist_ok=True)
    with open(env.dagster_home / "instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ensure_dagster_home(env)
            return dg.DagsterInstance.from_config(str(env.dagster_home))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

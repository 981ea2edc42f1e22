"""Resolve where the mesh lives and how its tools run — lazily, in one place.

Nothing here runs at import time: tests and CLIs point the mesh at another data directory by
setting ``MESH_DATA_DIR`` before calling :func:`get_environment`, with no module reloading.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mesh_platform.core.memory import (
    DUCKDB_LIMIT_VAR,
    MEMORY_SIZE,
    check_memory_settings,
    duckdb_memory_limit,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# The platform's dbt package (`mesh`: shared macros), shipped inside the Python package.
MESH_DBT_PACKAGE = Path(__file__).resolve().parents[1] / "dbt_package"

# Events Dagster buffers before handing them to the storage as one batch (see tool_env).
EVENT_BATCH_SIZE = "1000"

# A data platform does not phone home: every tool's telemetry is off inside the project.
TELEMETRY_OFF = {
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_VERSION_CHECK": "false",
}


# How much memory a build's DuckDB instances get: MESH_MEMORY_BUDGET divided among the domains
# building at once, unless MESH_DUCKDB_MEMORY_LIMIT bounds each instance (core/memory.py).
# MEMORY_LIMIT: what a memory setting may look like (the query limits use it too).
MEMORY_LIMIT = MEMORY_SIZE


DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"  # `mesh portal` with its defaults


def portal_url() -> str:
    """Where users open the data portal (``MESH_PORTAL_URL``; `mesh portal`'s address unless
    set): Dagster links each output port to its product's page there."""
    value = (os.environ.get("MESH_PORTAL_URL") or DEFAULT_PORTAL_URL).strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(
            f"MESH_PORTAL_URL={value!r} is not a web address: use the portal's base URL, "
            f"e.g. {DEFAULT_PORTAL_URL} or https://portal.example.com"
        )
    return value


@dataclass(frozen=True)
class MeshEnvironment:
    """Every path the mesh reads or writes, derived from one data directory."""

    name: str
    repo_root: Path
    data_dir: Path

    @property
    def domains_dir(self) -> Path:
        return self.repo_root / "domains"

    @property
    def dbt_project_dir(self) -> Path:
        """The folder of the domains' dbt projects (one per domain) and their shared profile."""
        return self.repo_root / "dbt_project"

    def domain_dbt_dir(self, domain: str) -> Path:
        """A domain's own dbt project: ``dbt_project/<domain>/``."""
        return self.dbt_project_dir / domain

    @property
    def governance_dir(self) -> Path:
        return self.repo_root / "governance"

    @property
    def access_dir(self) -> Path:
        """Users and grants of the consumer plane (``governance/access/`` unless
        ``MESH_ACCESS_DIR`` moves them, e.g. to a writable volume in production or a test's
        temporary copy)."""
        override = os.environ.get("MESH_ACCESS_DIR")
        return Path(override).resolve() if override else self.governance_dir / "access"

    @property
    def dbt_in_process(self) -> bool:
        """Run dbt inside each step's process (the default) or, with ``MESH_DBT_SUBPROCESS=1``,
        as dagster-dbt's subprocess (an escape hatch; 5–6 s slower per step)."""
        return os.environ.get("MESH_DBT_SUBPROCESS", "") not in {"1", "true"}

    @property
    def operational_dir(self) -> Path:
        return self.data_dir / "operational"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def ports_dir(self) -> Path:
        return self.data_dir / "ports"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def dbt_artifacts_dir(self) -> Path:
        return self.data_dir / "dbt"

    def domain_database(self, domain: str) -> Path:
        """The one DuckDB file a domain's pipeline writes (its private storage)."""
        return self.warehouse_dir / f"{domain}.duckdb"

    def tool_env(self) -> dict[str, str]:
        """Environment variables dbt, Soda and Dagster need: :meth:`settings_env` and the
        resolved DuckDB memory limit, which dbt's profile reads."""
        return {**self.settings_env(), DUCKDB_LIMIT_VAR: duckdb_memory_limit()}

    def settings_env(self) -> dict[str, str]:
        """The mesh's paths and settings, without the DuckDB limit: that one depends on how many
        domains build at once, which the runner decides later (and resolving it reads the size
        of the operational sources)."""
        return {
            **TELEMETRY_OFF,
            "MESH_DATA_DIR": str(self.data_dir),
            "MESH_OPERATIONAL_DIR": str(self.operational_dir),
            "MESH_PORTS_DIR": str(self.ports_dir),
            "MESH_WAREHOUSE_DIR": str(self.warehouse_dir),
            # the platform's dbt package every domain project depends on (its packages.yml)
            "MESH_DBT_PACKAGE": str(MESH_DBT_PACKAGE),
            "DAGSTER_HOME": str(self.dagster_home),
            # Dagster hands a run's per-partition planned and materialization events to the
            # storage in batches only when this is set; the embedded SQLite storage writes a
            # batch in one transaction (local_event_log.py), PostgreSQL's in one statement.
            "DAGSTER_EVENT_BATCH_SIZE": EVENT_BATCH_SIZE,
        }


def get_environment() -> MeshEnvironment:
    """The current environment: ``MESH_ENV`` (default ``local``) and ``MESH_DATA_DIR``.

    ``MESH_DATA_DIR`` defaults to ``./data`` under the repository, so wiping that one folder
    resets the whole mesh. ``MESH_REPO_ROOT`` points the platform at another copy of the mesh's
    sources (domains/, dbt_project/, governance/) — what tests and scaffolding previews use.
    """
    repo_root = Path(os.environ.get("MESH_REPO_ROOT") or REPO_ROOT).resolve()
    data_dir = Path(os.environ.get("MESH_DATA_DIR") or repo_root / "data").resolve()
    return MeshEnvironment(
        name=os.environ.get("MESH_ENV", "local"), repo_root=repo_root, data_dir=data_dir
    )


def apply_tool_env(env: MeshEnvironment | None = None) -> MeshEnvironment:
    """Export the mesh's paths and telemetry settings to this process (and its children), and
    make what it writes readable by its owner only (:func:`owner_only`)."""
    env = env or get_environment()
    # Not the resolved DuckDB limit (each dbt invocation resolves it): exported here it would
    # look like the user's MESH_DUCKDB_MEMORY_LIMIT, which wins over the budget.
    check_memory_settings()  # a typo fails when any tool starts, naming the variable
    os.environ.update(env.settings_env())
    owner_only(env.data_dir)
    return env


def owner_only(data_dir: Path) -> None:
    """Files this process (and its children) creates get mode 0600, folders 0700 (umask 077),
    and the data directory itself is 0700.

    The data directory holds raw personal data of the sources, every port (personal-data
    columns included), the warehouses, grants, token hashes and the audit log: another user of
    the machine must read none of it. Consumers read through the guarded interfaces (`mesh
    query`, the portal's API, ``connect()``), which apply grants; a 0700 data directory also
    shuts out files an older version left world-readable inside it.
    """
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # not ours to change (e.g. a mounted volume)
        data_dir.chmod(0o700)


@contextlib.contextmanager
def temporary_environ(updates: Mapping[str, str]) -> Iterator[None]:
    """``updates`` in ``os.environ`` for the block, then each variable as it was (or unset)."""
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

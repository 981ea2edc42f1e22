"""Shared fixtures: every test writes under its own temporary data directory, never ./data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.core.environment import MeshEnvironment, apply_tool_env

REPO = Path(__file__).resolve().parent.parent
TEST_SCALE = 0.02
# The generator's window ends yesterday by default (a live demo); the tests pin its last day so
# their data never depends on the day they run. Set in the environment, it also pins the data
# that `mesh generate`, `mesh demo` and `mesh dev` generate in the subprocesses tests start.
TEST_DATA_END = "2026-03-31"
os.environ["DAFF_DATA_END"] = TEST_DATA_END


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch) -> None:
    """Point the mesh at a throwaway data directory unless a test chose another one."""
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path_factory.getbasetemp() / "default-data"))


@pytest.fixture(scope="session")
def built_mesh(tmp_path_factory) -> Iterator[tuple[MeshEnvironment, list]]:
    """Generate a small Daff and materialize every domain through Dagster, once per session."""
    from mesh_platform.run.runner import materialize_mesh
    from operational import generate

    data_dir = tmp_path_factory.mktemp("mesh-data")
    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(data_dir))
    env = apply_tool_env()
    generate(env.operational_dir, scale=TEST_SCALE)
    runs = materialize_mesh()
    yield env, runs
    mp.undo()


@pytest.fixture
def mesh_env(built_mesh, monkeypatch) -> MeshEnvironment:
    env, _ = built_mesh
    monkeypatch.setenv("MESH_DATA_DIR", str(env.data_dir))
    apply_tool_env()
    return env


@pytest.fixture
def own_copy(mesh_env, tmp_path, monkeypatch) -> MeshEnvironment:
    """A copy of the built mesh (data, warehouse, ports, Dagster instance) for a test that
    changes it: the session's build stays as it was for the others."""
    data = tmp_path / "data"
    shutil.copytree(mesh_env.data_dir, data, symlinks=True)
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    return apply_tool_env()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """One local Spark standalone cluster (a master and two workers, each its own JVM, on
    loopback) shared by every Spark test of the session; stopped by process id at the end."""
    from mesh_platform.core.environment import get_environment
    from mesh_platform.production.processes import alive_pids
    from mesh_platform.production.spark_cluster import SparkCluster

    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(tmp_path_factory.mktemp("spark-cluster")))
    cluster = SparkCluster(get_environment()).start()
    mp.undo()
    try:
        yield cluster
    finally:
        pids = cluster.pids()
        cluster.stop()
        assert alive_pids(pids) == set(), "the Spark master and workers must stop"


@pytest.fixture
def screenshots(request) -> Path:
    """Where a browser test saves what it saw, kept after the run for people to look at:
    ``test-artifacts/screenshots/<test module>/`` in the repository (git-ignored)."""
    folder = REPO / "test-artifacts" / "screenshots" / request.module.__name__.rpartition(".")[2]
    folder.mkdir(parents=True, exist_ok=True)
    return folder

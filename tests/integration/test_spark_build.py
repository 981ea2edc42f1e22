"""The same dbt models on Apache Spark: a whole domain built through dbt-spark gives exactly the
port rows of the DuckDB build — on a local Spark standalone cluster (master + worker on
loopback) for one domain, and in a local Spark for every other domain of the mesh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.production.processes import alive_pids
from mesh_platform.production.spark import SparkCluster, compare_with_duckdb
from mesh_platform.run.runner import materialize_mesh
from operational import generate

from ..conftest import REPO

pytestmark = pytest.mark.slow

DOMAIN = "artists"  # CSV operational files + the playback.play_events port as inputs
# the other domains' sources: JSON lines (playback), SQLite + CSV (listeners), JSON API pages
# (podcasts), ports only (recommendations)
OTHER_DOMAINS = ["playback", "podcasts", "listeners", "recommendations"]


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory):
    """The DuckDB build through Dagster: playback (whose port artists reads), then artists."""
    patch = pytest.MonkeyPatch()
    patch.setenv("MESH_DATA_DIR", str(tmp_path_factory.mktemp("spark-data")))
    patch.delenv("MESH_REPO_ROOT", raising=False)
    env = apply_tool_env()
    generate(env.operational_dir, scale=0.01)
    (playback,) = materialize_mesh(only=["playback"])
    assert playback.success, playback.errors
    started = time.monotonic()
    (artists,) = materialize_mesh(only=[DOMAIN])
    assert artists.success, artists.errors
    yield env, time.monotonic() - started
    patch.undo()


def output_models(env, domain: str) -> list[str]:
    found = load_domain(env.domains_dir / domain)
    return sorted({port.model for product in found.products for port in product.output_ports})


def spark_build(env, domain: str, master: str, outcome) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mesh_platform.production.spark", domain,
         "--master", master, "--json", str(outcome)],
        cwd=REPO, env={**os.environ, **env.tool_env()},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def assert_same_rows(env, domain: str, result: dict) -> None:
    models = output_models(env, domain)
    assert set(models) <= set(result["tables"]), result
    for port in compare_with_duckdb(env, domain, result["tables"], models):
        assert port.duckdb_rows > 0, port
        assert port.equal, port


def test_a_whole_domain_builds_on_spark_with_the_rows_of_the_duckdb_build(duckdb_build):
    env, duckdb_seconds = duckdb_build
    outcome = env.data_dir / "spark-build.json"
    with SparkCluster(env, cores=2, memory="1g") as cluster:
        started = time.monotonic()
        build = spark_build(env, DOMAIN, cluster.master_url, outcome)
        spark_seconds = time.monotonic() - started
        pids = cluster.pids()
        # the queries ran on the cluster's executors, not in a local driver-only Spark
        apps = cluster.status()["completedapps"] + cluster.status()["activeapps"]
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert alive_pids(pids) == set(), "the Spark master and worker must stop"
    assert any(a["name"] == f"mesh-{DOMAIN}" for a in apps), apps
    assert list((cluster.root / "work").glob("app-*/*")), "no executor ran on the worker"
    result = json.loads(outcome.read_text())
    print(
        f"\nSpark cluster up in {cluster.startup_seconds:.1f}s; {DOMAIN} on Spark "
        f"{spark_seconds:.1f}s {result['seconds']}; on DuckDB through Dagster {duckdb_seconds:.1f}s"
    )
    assert_same_rows(env, DOMAIN, result)


@pytest.mark.parametrize("domain", OTHER_DOMAINS)
def test_every_domain_builds_on_spark_with_the_rows_of_the_duckdb_build(mesh_env, domain):
    outcome = mesh_env.data_dir / f"spark-{domain}.json"
    build = spark_build(mesh_env, domain, "local[2]", outcome)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert_same_rows(mesh_env, domain, json.loads(outcome.read_text()))

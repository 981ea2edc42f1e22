"""The same dbt models on Apache Spark: a whole domain built through dbt-spark on a local Spark
standalone cluster (master + worker on loopback) gives exactly the rows of the DuckDB build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import pytest

from mesh_platform.core.environment import apply_tool_env
from mesh_platform.production.processes import alive_pids
from mesh_platform.production.spark import SparkCluster
from mesh_platform.run.runner import materialize_mesh
from operational import generate

from ..conftest import REPO

pytestmark = pytest.mark.slow

DOMAIN = "artists"  # CSV operational files + the playback.play_events port as inputs


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


def output_models(env) -> list[str]:
    from mesh_platform.core.domain import load_domain

    domain = load_domain(env.domains_dir / DOMAIN)
    return sorted(port.model for product in domain.products for port in product.output_ports)


def test_a_whole_domain_builds_on_spark_with_the_rows_of_the_duckdb_build(duckdb_build):
    env, duckdb_seconds = duckdb_build
    outcome = env.data_dir / "spark-build.json"
    with SparkCluster(env, cores=2, memory="1g") as cluster:
        started = time.monotonic()
        build = subprocess.run(
            [
                sys.executable,
                "-m",
                "mesh_platform.production.spark",
                DOMAIN,
                "--master",
                cluster.master_url,
                "--json",
                str(outcome),
            ],
            cwd=REPO,
            env={**os.environ, **env.tool_env()},
            capture_output=True,
            text=True,
            timeout=900,
        )
        spark_seconds = time.monotonic() - started
        pids = cluster.pids()
        # the queries ran on the cluster's executors, not in a local driver-only Spark
        apps = cluster.status()["completedapps"] + cluster.status()["activeapps"]
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert alive_pids(pids) == set(), "the Spark master and worker must stop"
    assert any(a["name"].startswith("mesh-dbt") for a in apps), apps
    assert list((cluster.root / "work").glob("app-*/*")), "no executor ran on the worker"
    result = json.loads(outcome.read_text())
    print(
        f"\nSpark cluster up in {cluster.startup_seconds:.1f}s; {DOMAIN} on Spark "
        f"{spark_seconds:.1f}s {result['seconds']}; on DuckDB through Dagster {duckdb_seconds:.1f}s"
    )

    models = output_models(env)
    assert set(models) <= set(result["tables"]), result
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"attach '{env.domain_database(DOMAIN)}' as duck (read_only)")
    for model in models:
        duck = f"duck.marts.{model}"
        columns = con.execute(f"describe {duck}").fetchall()
        spark_files = f"{result['tables'][model]}/*.parquet"
        # Spark's types become DuckDB's, column by column, in the DuckDB model's order
        spark = "select " + ", ".join(
            f'cast("{name}" as {dtype}) as "{name}"' for name, dtype, *_ in columns
        )
        spark += f" from read_parquet('{spark_files}')"
        counts = con.execute(
            f"select (select count(*) from {duck}), (select count(*) from ({spark}))"
        )
        duck_rows, spark_rows = counts.fetchone()
        assert duck_rows == spark_rows and duck_rows > 0, (model, duck_rows, spark_rows)
        only_duck = con.execute(f"select count(*) from (from {duck} except all {spark})")
        assert only_duck.fetchone()[0] == 0, f"{model}: rows only in the DuckDB build"
        only_spark = con.execute(f"select count(*) from ({spark} except all from {duck})")
        assert only_spark.fetchone()[0] == 0, f"{model}: rows only in the Spark build"

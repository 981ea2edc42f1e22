"""A domain built on Spark through Dagster is governed like one built on DuckDB: the same
contracts, messages and ports — equal, row for row and checksum for checksum — and a crash
during its publish tears nothing.

One Spark standalone cluster (master + two workers on loopback) serves every test here
(``spark_cluster`` in tests/conftest.py); each build's driver runs in a Dagster step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb
import pytest

from mesh_platform.core.environment import apply_tool_env
from mesh_platform.ports.store import current_snapshot, list_published
from mesh_platform.run.runner import materialize_mesh
from tests.ports_support import unnamed_files

from ..conftest import REPO, TEST_SCALE

pytestmark = pytest.mark.slow


def published(env) -> dict[str, tuple[int, str]]:
    """Every port's (rows, checksum), by address and version."""
    return {
        f"{p.address} v{p.version}": (p.rows, p.checksum) for p in list_published(env.ports_dir)
    }


@pytest.fixture(scope="module")
def two_engines(tmp_path_factory, spark_cluster):
    """The whole Daff mesh built from the same generated data on DuckDB, then on Spark, then
    mixed (playback on Spark, the other domains on DuckDB): the ports after each build."""
    from operational import generate

    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(tmp_path_factory.mktemp("two-engines")))
    mp.setenv("MESH_SPARK_MASTER", spark_cluster.master_url)
    env = apply_tool_env()
    generate(env.operational_dir, scale=TEST_SCALE)
    ports = {}
    seconds = {}
    for name, plan in {
        "duckdb": [("duckdb", None)],
        "spark": [("spark", None)],
        "mixed": [
            ("spark", ["playback"]),
            ("duckdb", ["artists", "listeners", "podcasts", "recommendations"]),
        ],
    }.items():
        started = time.monotonic()
        for engine, only in plan:
            mp.setenv("MESH_ENGINE", engine)
            runs = materialize_mesh(only=only)
            failed = {r.domain: r.errors for r in runs if not r.success}
            assert not failed, f"{name} build ({engine}): {failed}"
        seconds[name] = time.monotonic() - started
        ports[name] = published(env)
    mp.delenv("MESH_ENGINE")
    print(f"\nmesh builds: { {k: round(v, 1) for k, v in seconds.items()} }")
    yield env, ports
    mp.undo()


def test_every_port_built_on_spark_equals_the_duckdb_build(two_engines):
    _, ports = two_engines
    duck, spark = ports["duckdb"], ports["spark"]
    assert len(duck) >= 15 and all(rows > 0 for rows, _ in duck.values()), duck
    differ = {a: (duck[a], spark.get(a)) for a in duck if spark.get(a) != duck[a]}
    assert not differ, f"ports that differ between DuckDB and Spark builds: {differ}"


def test_a_mixed_mesh_publishes_the_same_ports(two_engines):
    _, ports = two_engines
    assert ports["mixed"] == ports["duckdb"]


def test_the_builds_ran_on_the_clusters_executors(two_engines, spark_cluster):
    status = spark_cluster.status()
    apps = status["completedapps"] + status["activeapps"]
    assert {a["name"] for a in apps} >= {f"mesh-{d}" for d in ("playback", "artists")}, apps
    assert status["aliveworkers"] == 2
    assert list((spark_cluster.root / "work").glob("app-*/*")), "no executor ran on a worker"


def test_a_day_of_playback_on_spark_rewrites_that_day_only(two_engines, monkeypatch):
    """The daily models run incrementally on Spark: a run of one day overwrites that day's
    partition of the Spark table and publishes that day's file; every other day is untouched."""
    from mesh_platform.build.engines.spark import domain_spark_dir
    from mesh_platform.core.domain import load_all_domains
    from mesh_platform.run.increment import materialize_day
    from mesh_platform.run.runner import day_window

    env, ports = two_engines
    monkeypatch.setenv("MESH_DATA_DIR", str(env.data_dir))
    monkeypatch.setenv("MESH_ENGINE", "spark")
    _, last = day_window(env, load_all_domains(env.domains_dir))
    table = domain_spark_dir(env, "playback") / "warehouse" / "marts.db" / "play_events"
    days = {p.name: p.stat().st_mtime_ns for p in table.glob("event_date=*")}
    assert len(days) > 1, list(table.iterdir())
    runs = materialize_day(last.isoformat(), only=["playback"])
    assert all(r.success for r in runs), [r.errors for r in runs]
    after = {p.name: p.stat().st_mtime_ns for p in table.glob("event_date=*")}
    rewritten = {d for d in days if after.get(d) != days[d]}
    assert rewritten == {f"event_date={last.isoformat()}"}, rewritten
    snap = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    assert snap.days_written == [last.isoformat()]
    assert (snap.rows, snap.checksum) == ports["duckdb"]["playback.play_events v1"]


BAD_PAYMENT = "pay_000001,art_00002,2025-01,-5.00,2025-02-03 08:47:47\n"


def test_a_bad_row_blocks_a_spark_built_port_with_the_duckdb_message(two_engines, monkeypatch):
    env, _ = two_engines
    monkeypatch.setenv("MESH_DATA_DIR", str(env.data_dir))
    payments = env.operational_dir / "artist_management" / "payments.csv"
    original = payments.read_text()
    before = current_snapshot(env.ports_dir, "artists", "artist_payments", 1)
    messages = {}
    payments.write_text(original + BAD_PAYMENT)
    try:
        for engine in ("duckdb", "spark"):
            monkeypatch.setenv("MESH_ENGINE", engine)
            (run,) = materialize_mesh(only=["artists"])
            assert not run.success
            assert current_snapshot(env.ports_dir, "artists", "artist_payments", 1) == before
            messages[engine] = run.errors
    finally:
        payments.write_text(original)
    assert messages["spark"] == messages["duckdb"]
    text = "\n".join(messages["spark"])
    assert "domain artists, product artist_payments" in text
    assert "contract__amount_eur__invalid" in text and "NOT published" in text


def test_sigkill_during_a_spark_domains_publish_tears_no_port(two_engines, spark_cluster):
    env, ports = two_engines
    os_env = {
        **os.environ,
        **env.tool_env(),
        "MESH_SPARK_MASTER": spark_cluster.master_url,
        "MESH_FAILPOINT": "publish.temp_written:2",  # half-way through the second port
    }
    before = {p: current_snapshot(env.ports_dir, "artists", p, 1) for p in ARTISTS_PORTS}
    killed = materialize_artists_on_spark(os_env)
    assert killed.returncode != 0, killed.stdout[-2000:]
    con = duckdb.connect()
    for port in ARTISTS_PORTS:
        snap = current_snapshot(env.ports_dir, "artists", port, 1)
        assert snap is not None, port
        # the current snapshot is whole: its files hold the rows its summary says
        rows = con.execute(f"select count(*) from read_parquet({snap.files})").fetchone()[0]
        assert rows == snap.rows, port
        assert snap == before[port] or snap.checksum == before[port].checksum, port
    leftovers = [f for p in ARTISTS_PORTS for f in unnamed_files(env.ports_dir, f"artists.{p}")]
    assert leftovers, "the killed publish wrote its files and committed nothing"
    # the killed driver's application ends with its process
    deadline = time.monotonic() + 60
    while spark_cluster.status()["activeapps"] and time.monotonic() < deadline:
        time.sleep(1)
    assert spark_cluster.status()["activeapps"] == []
    # a rerun publishes again and clears what the killed run left
    os_env.pop("MESH_FAILPOINT")
    rerun = materialize_artists_on_spark(os_env)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert not [p for p in leftovers if p.exists()]
    for port in ARTISTS_PORTS:
        address = f"artists.{port} v1"
        assert published(env)[address] == ports["duckdb"][address]


ARTISTS_PORTS = ["artist_payments", "artist_profiles", "artist_royalties", "track_catalog"]


def materialize_artists_on_spark(environ: dict[str, str]) -> subprocess.CompletedProcess:
    """`mesh materialize artists --engine spark` as its own process (it may be killed)."""
    return subprocess.run(
        [sys.executable, "-m", "mesh_platform.cli", "materialize", "artists", "--engine", "spark"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
    )

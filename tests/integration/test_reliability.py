"""Crashes and concurrency on real Dagster runs (real dbt, Soda, DuckDB) at a small scale.

- analysts query every published port (guarded, trusted and views-file readers) while all
  domains build, one of them broken: zero errors, and the broken domain blocks none of the
  others;
- two runs of one domain are serialized by its pool, two domains run at the same time;
- a DuckDB lock held by another process is retried (bounded) and the run succeeds;
- ``mesh materialize`` SIGKILLed at failpoints and at a random moment: a reader process never
  sees a torn port, a rerun converges on the clean run's checksums and leaves no leftovers.

``python -m bench.reliability`` runs the same trials at length and writes the figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.reliability import (
    Analysts,
    ReaderProcess,
    dbt_step_intervals,
    kill_schedule,
    mesh_materialize,
    overlaps,
    port_state,
    run_kill_trials,
    step_domain,
)
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.ports.store import current_snapshot
from tests.conftest import TEST_SCALE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_mesh(tmp_path_factory):
    """A freshly generated Daff of this module's own (its runs and instance are ours)."""
    from operational import generate

    data_dir = tmp_path_factory.mktemp("reliability-data")
    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(data_dir))
    env = apply_tool_env()
    generate(env.operational_dir, scale=TEST_SCALE)
    yield env
    mp.undo()


@pytest.fixture
def env(fresh_mesh, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(fresh_mesh.data_dir))
    monkeypatch.delenv("MESH_FAILPOINT", raising=False)
    return apply_tool_env()


def test_analysts_query_while_every_domain_builds_and_a_broken_one_blocks_nothing(env):
    from mesh_platform.run.runner import materialize_mesh

    # break one domain: its DuckDB file is garbage, so its dbt build fails (not transient)
    env.warehouse_dir.mkdir(parents=True, exist_ok=True)
    env.domain_database("podcasts").write_bytes(b"not a duckdb file" * 1000)
    with Analysts() as tally:
        runs = {r.domain: r for r in materialize_mesh()}
        time.sleep(1)  # a last round of queries after the build
    env.domain_database("podcasts").unlink()

    assert not runs["podcasts"].success
    assert any("podcasts" in e for e in runs["podcasts"].errors)
    assert [d for d, r in runs.items() if not r.success] == ["podcasts"], {
        d: r.errors for d, r in runs.items()
    }
    assert current_snapshot(env.ports_dir, "podcasts", "podcast_shows", 1) is None
    assert current_snapshot(env.ports_dir, "recommendations", "weekly_top_tracks", 1)

    queries = sum(tally.queries.values())
    print(
        f"\nanalysts during builds: {queries} queries {dict(tally.queries)}, "
        f"{len(tally.errors)} errors"
    )
    assert tally.errors == []
    assert all(tally.queries[c] > 0 for c in ("consume.connect", "views file"))
    assert any(c.startswith("connect(user=") for c in tally.queries)


def test_same_domain_runs_are_serialized_other_domains_run_in_parallel(env):
    from mesh_platform.build.instance import get_instance

    instance = get_instance()
    known = {r.dagster_run.run_id for r in instance.get_run_records()}
    environ = dict(os.environ)
    procs = [mesh_materialize(d, environ) for d in ("podcasts", "podcasts", "playback")]
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]

    new = [r.dagster_run for r in instance.get_run_records() if r.dagster_run.run_id not in known]
    by_domain = {"podcasts": [], "playback": []}
    for interval in dbt_step_intervals(instance, [r.run_id for r in new]):
        by_domain[step_domain(interval[1])].append(interval)
    podcasts, playback = by_domain["podcasts"], by_domain["playback"]
    print(
        f"\npodcasts dbt steps: {[(round(s), round(e)) for *_, s, e in podcasts]}, "
        f"playback: {[(round(s), round(e)) for *_, s, e in playback]}"
    )
    assert len(podcasts) >= 2
    assert not any(overlaps(a, b) for i, a in enumerate(podcasts) for b in podcasts[i + 1 :]), (
        "two runs of one domain wrote its DuckDB file at the same time"
    )
    assert any(overlaps(a, b) for a in podcasts for b in playback), "domains did not overlap"


HOLD_LOCK = (
    "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
    "time.sleep(float(sys.argv[2]))"
)


def test_lock_held_by_another_process_is_retried_then_succeeds(env):
    """Another process holds the domain's DuckDB file until the step's first attempt has failed
    on the lock; the bounded retry policy retries it and the run succeeds."""
    from mesh_platform.build.instance import get_instance
    from mesh_platform.run.runner import materialize_mesh

    instance = get_instance()
    known = {r.dagster_run.run_id for r in instance.get_run_records()}
    env.warehouse_dir.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(env.domain_database("podcasts")), "900"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    result: list = []
    build = threading.Thread(target=lambda: result.extend(materialize_mesh(only=["podcasts"])))
    build.start()
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and build.is_alive() and not _retried(instance, known):
            time.sleep(1)
    finally:
        holder.kill()  # the lock goes away: the retry can succeed
        holder.wait()
        build.join(timeout=900)
    (run,) = result
    assert run.success, run.errors
    assert _retried(instance, known)
    events = [
        record.dagster_event.event_type_value
        for run_id in run.run_ids
        for record in instance.all_logs(run_id)
        if record.dagster_event
    ]
    assert "STEP_RESTARTED" in events


def _retried(instance, known: set[str]) -> bool:
    for record in instance.get_run_records(limit=5):
        if record.dagster_run.run_id in known:
            continue
        for entry in instance.all_logs(record.dagster_run.run_id):
            if entry.dagster_event and entry.dagster_event.event_type_value == "STEP_UP_FOR_RETRY":
                return True
    return False


def test_kill_trials_reader_never_sees_a_torn_port_and_reruns_converge(env, tmp_path):
    environ = dict(os.environ)
    clean_proc = mesh_materialize("podcasts", environ)
    _, err = clean_proc.communicate(timeout=900)
    assert clean_proc.returncode == 0, err[-3000:]
    clean = {k: v for k, v in port_state(env.ports_dir).items() if k.startswith("podcasts.")}
    assert clean and all(v["checksum"] for v in clean.values())

    reader = ReaderProcess(env.ports_dir, tmp_path)
    kills = ["build.after_dbt", "publish.committed"]
    kills += kill_schedule(1, seed=7, clean_seconds=20.0)  # one seeded random-time kill
    try:
        trials = run_kill_trials(environ, "podcasts", kills, clean)
    finally:
        seen = reader.stop()
    print(
        f"\nreader: {seen['checks']} checks, {seen['queries']} queries, "
        f"{seen['problem_count']} problems; trials: "
        + "; ".join(f"{t.kill}: {t.outcome}, converged={t.converged}" for t in trials)
    )
    assert seen["problem_count"] == 0, seen["problems"]
    assert seen["checks"] > 0
    for trial in trials:
        if not trial.kill.startswith("random@"):
            assert trial.outcome == "killed", trial
        assert trial.consistent_after_kill, trial
        assert trial.rerun_ok and trial.converged, trial
        assert trial.leftovers == [], trial
    assert Path(env.ports_dir / "mesh.duckdb").exists()

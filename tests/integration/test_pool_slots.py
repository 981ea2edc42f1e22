"""A domain's pool slot goes to one run at a time, even when processes claim it at the same instant.

Real Dagster instance (the embedded default's SQLite storage) in a temp data dir, real
processes racing for the slot: each imports Dagster, reports ready, then all claim together.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

POOL, STEP = "duckdb_podcasts", "podcasts_dbt"
CLAIMERS = 6

CLAIM = f"""
import os, sys, time
import dagster as dg
instance = dg.DagsterInstance.from_config(sys.argv[1])
storage = instance.event_log_storage
print("ready", flush=True)
go = sys.argv[3]
while not os.path.exists(go):
    time.sleep(0.001)
# what Dagster's executor does for a step in a pool (InstanceConcurrencyContext.claim)
if {POOL!r} not in {{pool.name for pool in storage.get_pool_limits()}}:
    storage.initialize_concurrency_limit_to_default({POOL!r})
status = storage.claim_concurrency_slot({POOL!r}, sys.argv[2], {STEP!r})
print("claimed" if status.is_claimed else "blocked", flush=True)
"""


def _race(home: Path, go: Path, run_ids: list[str]) -> list[str]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM, str(home), run_id, str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in run_ids
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    outcomes = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        outcomes.append(out.strip())
    return outcomes


def test_processes_claiming_a_domain_pool_at_once_get_one_slot(tmp_path, monkeypatch):
    from mesh_platform.build.instance import get_instance
    from mesh_platform.build.local_event_log import HostLockedSqliteEventLogStorage
    from mesh_platform.core.environment import apply_tool_env

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    instance = get_instance()
    assert isinstance(instance.event_log_storage, HostLockedSqliteEventLogStorage)
    home = apply_tool_env().dagster_home

    for trial in range(3):
        run_ids = [f"trial{trial}-run{i}" for i in range(CLAIMERS)]
        outcomes = _race(home, tmp_path / f"go-{trial}", run_ids)
        assert outcomes.count("claimed") == 1, outcomes
        holders = [
            info.run_id
            for info in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
        ]
        assert holders == [run_ids[outcomes.index("claimed")]]
        # the holder's run ends: its slot is free for the next trial's claimers
        for run_id in run_ids:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots


def test_a_data_dir_made_with_dagsters_default_storage_keeps_its_history(tmp_path, monkeypatch):
    """Same files as Dagster's default SQLite storage: runs recorded before are still there."""
    import dagster as dg

    from mesh_platform.build.instance import get_instance
    from mesh_platform.core.environment import apply_tool_env

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    home = apply_tool_env().dagster_home
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    @dg.asset
    def earlier() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(home)) as default_instance:
        run_id = dg.materialize([earlier], instance=default_instance).run_id

    instance = get_instance()
    assert "${DAGSTER_HOME}" not in (home / "dagster.yaml").read_text()
    assert instance.get_run_by_id(run_id).is_success
    assert any(
        e.is_dagster_event and e.dagster_event.is_step_success for e in instance.all_logs(run_id)
    )
    assert instance.get_latest_materialization_event(dg.AssetKey("earlier")).run_id == run_id

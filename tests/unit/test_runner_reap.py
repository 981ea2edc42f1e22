"""A run whose process was SIGKILLed is failed and its domain's pool slot freed by the next run."""

from __future__ import annotations

import socket
import subprocess
import sys

import dagster as dg

from mesh_platform.build.execute import HOST_TAG, PID_TAG, reap_dead_runs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _started_run(instance: dg.DagsterInstance, pid: int) -> dg.DagsterRun:
    run = instance.create_run_for_job(
        dg.GraphDefinition(name="g", node_defs=[]).to_job(),
        tags={PID_TAG: str(pid), HOST_TAG: socket.gethostname()},
    )
    instance.handle_run_event(
        run.run_id,
        dg.DagsterEvent(
            event_type_value="PIPELINE_START", job_name=run.job_name, message="started"
        ),
    )
    return instance.get_run_by_id(run.run_id)


def test_dead_runs_are_failed_and_release_their_pool_slot(tmp_path):
    with dg.instance_for_test(
        temp_dir=str(tmp_path), overrides={"concurrency": {"pools": {"default_limit": 1}}}
    ) as instance:
        dead = _started_run(instance, _dead_pid())
        alive = _started_run(instance, 1)  # pid 1 is always alive
        assert dead.status == dg.DagsterRunStatus.STARTED
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("duckdb_podcasts")
        assert storage.claim_concurrency_slot(
            "duckdb_podcasts", dead.run_id, "podcasts_dbt"
        ).is_claimed

        assert reap_dead_runs(instance) == [dead.run_id]

        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        info = storage.get_concurrency_info("duckdb_podcasts")
        assert info.active_slot_count == 0
        claim = storage.claim_concurrency_slot("duckdb_podcasts", "next-run", "podcasts_dbt")
        assert claim.is_claimed

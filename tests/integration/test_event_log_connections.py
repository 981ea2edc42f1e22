"""The embedded event log keeps its SQLite connections open between events
(mesh_platform/build/local_event_log.py): it must record exactly what Dagster's own SQLite
storage records, keep a bounded number of databases open in a long-lived reader, and survive a
wipe of the run databases it holds open."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
from dagster._core.events.log import EventLogEntry

from mesh_platform.build.local_event_log import OPEN_DATABASES, HostLockedSqliteEventLogStorage
from tests.integration.test_event_batch import KEYS, RANGE, _assets, _history, _instance


def _open_databases(directory: Path) -> set[str]:
    """The SQLite files of ``directory`` this process has open."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)) and target.endswith(".db"):
            names.add(Path(target).name)
    return names


def _log_line(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level="INFO",
        user_message=message,
        run_id=run_id,
        timestamp=time.time(),
    )


def test_kept_connections_record_what_dagsters_own_storage_records(tmp_path, monkeypatch):
    histories = {}
    mesh = _instance(tmp_path, monkeypatch, "mesh", batch=False)
    result = dg.materialize(_assets(False), instance=mesh, tags=RANGE)
    histories["mesh"] = _history(mesh, result.run_id)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as dagster_own:
        assert type(dagster_own.event_log_storage).__name__ == "SqliteEventLogStorage"
        result = dg.materialize(_assets(False), instance=dagster_own, tags=RANGE)
        histories["dagster"] = _history(dagster_own, result.run_id)
    assert histories["mesh"] == histories["dagster"]
    assert histories["mesh"]["materialized"] == set(KEYS)


def test_a_long_lived_reader_keeps_few_databases_open_and_reads_every_run(tmp_path):
    storage = HostLockedSqliteEventLogStorage(str(tmp_path / "runs"))
    runs = [f"run-{i:02d}" for i in range(3 * OPEN_DATABASES)]
    for run_id in runs:
        storage.store_event(_log_line(run_id, f"hello from {run_id}"))
    for run_id in runs:  # as the webserver reads run after run
        messages = [e.user_message for e in storage.get_logs_for_run(run_id)]
        assert messages == [f"hello from {run_id}"]
    open_now = _open_databases(tmp_path / "runs")
    assert len(open_now) <= OPEN_DATABASES, open_now
    storage.dispose()
    assert _open_databases(tmp_path / "runs") == set()


def test_a_wipe_closes_the_run_databases_it_deletes(tmp_path):
    storage = HostLockedSqliteEventLogStorage(str(tmp_path / "runs"))
    storage.store_event(_log_line("run-a", "before the wipe"))
    storage.wipe()
    storage.store_event(_log_line("run-a", "after the wipe"))
    assert [e.user_message for e in storage.get_logs_for_run("run-a")] == ["after the wipe"]
    # the new event is in the file on disk, not in the unlinked one the old connection held
    fresh = HostLockedSqliteEventLogStorage(str(tmp_path / "runs"))
    assert [e.user_message for e in fresh.get_logs_for_run("run-a")] == ["after the wipe"]
    storage.dispose()
    fresh.dispose()

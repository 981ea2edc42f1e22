"""A run over every day a daily port's table holds builds the table new (no delete+insert of
the whole history), with the same rows; a table holding a day the run does not cover keeps
delete+insert, which leaves that day alone."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from mesh_platform.build.instance import get_instance
from mesh_platform.build.window_rebuild import SET_ASIDE_SUFFIX
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.runner import materialize_mesh
from operational.increment import PLAYS_DIR

pytestmark = pytest.mark.slow

PORTS = ["play_events", "daily_track_plays", "listening_sessions"]
BUILT_NEW = "is built new rather than each day deleted and inserted again"


def _rebuild_playback() -> str:
    runs = materialize_mesh(only=["playback"])
    assert all(r.success for r in runs), [e for r in runs for e in r.errors]
    return "\n".join(
        e.user_message
        for r in runs
        for run_id in r.run_ids
        for e in get_instance().all_logs(run_id)
    )


def _tables(env) -> list[str]:
    with duckdb.connect(str(env.domain_database("playback")), read_only=True) as con:
        return sorted(
            r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()
        )


def test_a_run_over_every_day_builds_the_daily_ports_new_with_the_same_rows(own_copy):
    # (after settling what an earlier, crashed run left set aside)
    env = own_copy
    before = {p: current_snapshot(env.ports_dir, "playback", p, 1) for p in PORTS}
    # a day the sources no longer hold (the landing zone dropped it): the rebuilt table keeps
    # it, as delete+insert of the other days would have
    days = sorted((env.operational_dir / PLAYS_DIR).glob("date=*"))
    gone = days[1].name.removeprefix("date=")
    shutil.rmtree(days[1])
    # and a run that crashed right after setting play_events aside: the table is missing
    with duckdb.connect(str(env.domain_database("playback"))) as con:
        con.execute(f"alter table marts.play_events rename to play_events{SET_ASIDE_SUFFIX}")

    logs = _rebuild_playback()

    assert (
        f"marts.play_events: every day it holds is in this run's window, so it {BUILT_NEW}" in logs
    )
    assert "marts.daily_track_plays: every day it holds" in logs
    assert not [t for t in _tables(env) if t.endswith(SET_ASIDE_SUFFIX)]
    after = {p: current_snapshot(env.ports_dir, "playback", p, 1) for p in PORTS}
    for port in PORTS:  # a new snapshot of the very same rows
        assert after[port].snapshot_id != before[port].snapshot_id
        assert after[port].checksum == before[port].checksum, port
    assert gone in after["play_events"].partitions


def test_a_table_holding_a_day_outside_the_run_keeps_delete_insert(own_copy):
    env = own_copy
    with duckdb.connect(str(env.domain_database("playback"))) as con:
        con.execute(
            "insert into marts.play_events select * replace ('kept-' || event_id as event_id, "
            "date '2025-12-31' as event_date, timestamp '2025-12-31 12:00:00' as played_at) "
            "from marts.play_events limit 3"
        )

    logs = _rebuild_playback()

    assert "marts.play_events: every day" not in logs
    assert "marts.daily_track_plays: every day it holds is in this run's window" in logs
    with duckdb.connect(str(env.domain_database("playback")), read_only=True) as con:
        kept = con.execute(
            "select count(*) from marts.play_events where event_date = date '2025-12-31'"
        ).fetchone()[0]
    assert kept == 3

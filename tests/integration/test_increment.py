"""``mesh materialize --day``: one new day runs its partition and only what is downstream."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mesh_platform.build.instance import get_instance
from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.increment import materialize_day
from mesh_platform.run.runner import materialize_mesh
from operational.increment import append_day

pytestmark = pytest.mark.slow


def test_a_new_day_runs_its_partition_and_only_what_is_downstream(own_copy):
    env = own_copy
    plays_before = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    shows_before = current_snapshot(env.ports_dir, "podcasts", "podcast_shows", 1)
    profiles_before = current_snapshot(env.ports_dir, "artists", "artist_profiles", 1)
    day = append_day(env.operational_dir)

    runs = materialize_day(day.isoformat())

    assert {r.domain for r in runs} == {"playback", "artists", "listeners", "recommendations"}
    assert all(r.success for r in runs), [e for r in runs for e in r.errors]
    by_domain = {r.domain: r.materialized for r in runs}
    assert {"playback/play_events", "playback/daily_track_plays"} <= by_domain["playback"]
    assert "artists/artist_royalties" in by_domain["artists"]
    assert "artists/artist_profiles" not in by_domain["artists"]  # not fed by plays
    # podcasts reads nothing daily: not started; artists' catalog was not rebuilt
    assert current_snapshot(env.ports_dir, "podcasts", "podcast_shows", 1) == shows_before
    assert current_snapshot(env.ports_dir, "artists", "artist_profiles", 1) == profiles_before
    plays_after = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    new_rows = (
        connect()
        .execute(f"select count(*) from playback.play_events where event_date = date '{day}'")
        .fetchone()[0]
    )
    assert new_rows > 0
    assert plays_after.rows == plays_before.rows + new_rows  # history kept, the day added
    # published per day: the day's file was written, every other day is the previous file
    assert plays_after.days_written == [day.isoformat()]
    # the day's event ids were checked against every other published day (issue 27, finding 3)
    playback_run = next(r for r in runs if r.domain == "playback").run_ids[0]
    unique = [
        record.event_log_entry.dagster_event.event_specific_data
        for record in get_instance()
        .get_records_for_run(playback_run, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        .records
        if record.event_log_entry.dagster_event.event_specific_data.check_name
        == "contract__event_id__duplicate"
    ]
    assert [e.passed for e in unique] == [True]
    assert unique[0].metadata["mesh/duplicate_count_across_days"].value == 0
    assert unique[0].metadata["mesh/compared_with"].value == f"snapshot {plays_before.snapshot_id}"
    # the other days' data files are the same files: only the new day was written
    carried = set(plays_before.files) & set(plays_after.files)
    assert len(carried) == len(plays_before.files)
    assert len(plays_after.files) == len(plays_before.files) + 1
    charted = (
        connect()
        .execute(f"select count(*) from playback.daily_track_plays where event_date = date '{day}'")
        .fetchone()[0]
    )
    assert charted > 0

    # consumers rebuilt only the periods from the new day on, and got what a full rebuild gets
    logs = "\n".join(
        e.user_message
        for r in runs
        if r.domain in {"artists", "listeners"}
        for run_id in r.run_ids
        for e in get_instance().all_logs(run_id)
    )
    assert f"incremental models rebuild from {day}" in logs
    consumer_ports = [
        ("artists", "artist_royalties"),
        ("listeners", "monthly_listener_summary"),
        ("recommendations", "weekly_top_tracks"),
        ("recommendations", "listener_taste_profiles"),
        ("playback", "listening_sessions"),
        ("playback", "daily_track_plays"),
    ]
    after_day = {p: current_snapshot(env.ports_dir, *p, 1).checksum for p in consumer_ports}
    # An incremental model whose table no longer matches it (here: a column gone, as after a
    # model gained one) fails an incremental run (on_schema_change='fail'); a full rebuild asked
    # for recreates the table (dbt's --full-refresh on the unpartitioned step).
    _drop_last_column(env.domain_database("artists"), "artist_royalties")
    full = materialize_mesh(full_refresh=True)
    assert all(r.success for r in full), [e for r in full for e in r.errors]
    rebuilt = {p: current_snapshot(env.ports_dir, *p, 1).checksum for p in consumer_ports}
    assert after_day == rebuilt


def _drop_last_column(database: Path, table: str) -> None:
    with duckdb.connect(str(database)) as con:
        schema, column = con.execute(
            "select table_schema, column_name from information_schema.columns "
            "where table_name = ? order by ordinal_position desc limit 1",
            [table],
        ).fetchone()
        con.execute(f'alter table "{schema}"."{table}" drop column "{column}"')


def test_a_day_outside_the_data_is_refused_before_anything_runs(own_copy):
    with pytest.raises(ValueError, match="daily products cover"):
        materialize_day("2031-01-01")
    with pytest.raises(ValueError, match="not a date"):
        materialize_day("yesterday")

"""Issue 27, finding 3: a daily build must not publish keys the port already has on other days.

A day's contract is verified on that day's rows; the contract's ``duplicate`` check is then also
verified against the keys the port already publishes for every other day
(``mesh_platform/build/port_uniqueness.py``). Real DuckDB, dbt, Soda and Dagster, on a copy of
the session's built mesh.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh_platform.build.instance import get_instance
from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.increment import materialize_day
from operational.increment import PLAYS_DIR, append_day

pytestmark = pytest.mark.slow

CHECK = "contract__event_id__duplicate"


def _day_file(operational: Path, day: str) -> Path:
    return operational / PLAYS_DIR / f"date={day}" / "plays.jsonl"


def _reuse_event_ids(operational: Path, day, earlier: str, count: int) -> list[str]:
    """Give the first ``count`` events of ``day`` the event ids of ``earlier``'s first events
    (a collector that re-issued ids); return the reused ids."""
    donors = [json.loads(line)["event_id"] for line in _lines(operational, earlier)[:count]]
    lines = _lines(operational, day.isoformat())
    for i, event_id in enumerate(donors):
        event = json.loads(lines[i])
        event["event_id"] = event_id
        lines[i] = json.dumps(event, separators=(",", ":"))
    _day_file(operational, day.isoformat()).write_text("\n".join(lines) + "\n")
    return donors


def _lines(operational: Path, day: str) -> list[str]:
    return _day_file(operational, day).read_text().splitlines()


def _playback(runs):
    return next(r for r in runs if r.domain == "playback")


def _check_evaluations(run_id: str) -> dict[str, list]:
    """The asset check evaluations of a run, by check name."""
    import dagster as dg

    found: dict[str, list] = {}
    for record in (
        get_instance()
        .get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        .records
    ):
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        found.setdefault(evaluation.check_name, []).append(evaluation)
    return found


def test_reused_event_ids_are_blocked_or_rejected_and_a_normal_day_publishes(own_copy):
    env = own_copy
    before = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    charts = current_snapshot(env.ports_dir, "playback", "daily_track_plays", 1)
    previous_day = max(before.partitions)
    day = append_day(env.operational_dir)
    reused = _reuse_event_ids(env.operational_dir, day, previous_day, 5)

    runs = materialize_day(day.isoformat(), only=["playback"])

    playback = _playback(runs)
    assert not playback.success, "a day reusing published event ids was published"
    message = "\n".join(playback.errors)
    print(message)  # (-s shows it)
    assert "domain playback, product play_events: output port playback.play_events" in message
    assert f"check {CHECK}" in message and "`event_id`" in message
    assert "already published" in message
    assert all(event_id in message for event_id in reused)  # the keys, by value
    assert previous_day in message  # and the day they already exist in
    # no other row data: no listener, track or session of the reused events
    first = json.loads(_lines(env.operational_dir, day.isoformat())[0])
    assert first["track_id"] not in message and first["session_id"] not in message
    # nothing published changed: the port and its aggregates keep their snapshots
    assert current_snapshot(env.ports_dir, "playback", "play_events", 1) == before
    assert current_snapshot(env.ports_dir, "playback", "daily_track_plays", 1) == charts
    evaluations = _check_evaluations(playback.run_ids[0])
    assert [e.passed for e in evaluations[CHECK]] == [False]
    assert evaluations[CHECK][0].blocking
    assert "already published" in (evaluations[CHECK][0].description or "")
    _assert_unique(connect())

    # the collector re-sends the day with 2 of the reused ids left: play_events rejects bad
    # rows up to 2 %, and a reused id is rejected like a second row of an id within the day
    # (the row published first stays), with the same reason; the rest of the day publishes
    lines = _lines(env.operational_dir, day.isoformat())
    for i, line in enumerate(lines[2:5], start=2):
        event = json.loads(line)
        event["event_id"] = f"pe_resent_{i}"
        lines[i] = json.dumps(event, separators=(",", ":"))
    _day_file(env.operational_dir, day.isoformat()).write_text("\n".join(lines) + "\n")

    runs = materialize_day(day.isoformat(), only=["playback"])

    playback = _playback(runs)
    assert playback.success, playback.errors
    after = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    assert after.days_written == [day.isoformat()]
    assert after.rows == before.rows + len(lines) - 2
    # the published rows of the earlier day are unchanged; the new day's reused rows are rejects
    assert after.partitions[previous_day] == before.partitions[previous_day]
    _assert_unique(connect())
    rejects = env.ports_dir / "playback" / "play_events" / "v1" / "rejects" / "current.parquet"
    found = (
        connect()
        .execute(
            f"select event_id, event_date, reject_reason from read_parquet('{rejects}') "
            "order by event_id"
        )
        .fetchall()
    )
    assert [r[0] for r in found] == sorted(reused[:2])
    assert {str(r[1]) for r in found} == {day.isoformat()}
    assert {r[2] for r in found} == {f"duplicate on column `event_id` (check {CHECK})"}
    (evaluation,) = _check_evaluations(playback.run_ids[0])[CHECK]
    assert evaluation.passed and evaluation.metadata["mesh/rows_rejected"].value == 2

    # a normal next day (every domain) publishes: tests/integration/test_increment.py


def _assert_unique(con) -> None:
    total, distinct = con.execute(
        "select count(*), count(distinct event_id) from playback.play_events"
    ).fetchone()
    assert total == distinct

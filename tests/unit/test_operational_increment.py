"""The daily increment: one more day of play events, consistent with the generated sources."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest

from operational import generate
from operational.increment import append_day, existing_days

START = dt.date(2026, 1, 1)
DAYS = 5


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inc") / "operational"
    generate(out, scale=0.01, days=DAYS, start=START)
    return out


@pytest.fixture
def copy(generated: Path, tmp_path: Path) -> Path:
    target = tmp_path / "operational"
    shutil.copytree(generated, target)
    return target


def _day_file(out: Path, day: dt.date) -> Path:
    return out / "events" / "plays" / f"date={day.isoformat()}" / "plays.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_appends_the_day_after_the_last_folder_with_the_generators_format(copy: Path):
    before = json.loads((copy / "manifest.json").read_text())
    last = _rows(_day_file(copy, START + dt.timedelta(days=DAYS - 1)))

    day = append_day(copy)

    assert day == START + dt.timedelta(days=DAYS)
    assert existing_days(copy)[-1] == day
    rows = _rows(_day_file(copy, day))
    assert rows, "the new day has play events"
    assert all(list(r) == list(last[0]) for r in rows)  # same keys, same order
    assert all(type(r[k]) is type(last[0][k]) for r in rows for k in r)
    assert all(r["played_at"].startswith(day.isoformat()) for r in rows)
    ids = [int(r["event_id"].removeprefix("pe_")) for r in rows]
    assert ids == list(range(before["counts"]["play_events"] + 1, ids[0] + len(ids)))

    after = json.loads((copy / "manifest.json").read_text())
    assert after["days"] == before["days"] + 1
    assert after["counts"]["play_events"] == before["counts"]["play_events"] + len(rows)
    assert after["appended_days"] == [day.isoformat()]


def test_listeners_tracks_and_sessions_exist_and_never_collide(copy: Path):
    day = append_day(copy)
    rows = _rows(_day_file(copy, day))
    with sqlite3.connect(copy / "registration.sqlite") as lite:
        listeners = {r[0] for r in lite.execute("select listener_id from listeners")}
    tracks = {
        r[0]
        for r in duckdb.sql(
            f"select track_id from read_csv('{copy}/artist_management/tracks.csv')"
        ).fetchall()
    }
    assert {r["listener_id"] for r in rows} <= listeners
    assert {r["track_id"] for r in rows} <= tracks
    earlier = {
        r[0]
        for r in duckdb.sql(
            f"select distinct session_id from read_json('{copy}/events/plays/*/*.jsonl') "
            f"where played_at < '{day.isoformat()}'"
        ).fetchall()
    }
    assert not earlier & {r["session_id"] for r in rows}


def test_deterministic_and_repeatable(generated: Path, tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(generated, a)
    shutil.copytree(generated, b)
    days_a = [append_day(a), append_day(a)]
    days_b = [append_day(b), append_day(b)]
    assert days_a == days_b == [START + dt.timedelta(days=DAYS + i) for i in range(2)]
    for day in days_a:
        digest = [hashlib.sha256(_day_file(x, day).read_bytes()).hexdigest() for x in (a, b)]
        assert digest[0] == digest[1]
    meta = json.loads((a / "manifest.json").read_text())
    assert meta["days"] == DAYS + 2
    sql = f"select count(*), count(distinct event_id) from read_json('{a}/events/plays/*/*.jsonl')"
    ((total, distinct),) = duckdb.sql(sql).fetchall()
    assert total == distinct == meta["counts"]["play_events"]


def test_a_hard_linked_manifest_is_replaced_not_modified(generated: Path, tmp_path: Path):
    """The benchmark shares generated files between working dirs through hard links."""
    linked = tmp_path / "linked"
    shutil.copytree(generated, linked, copy_function=os.link)
    append_day(linked)
    assert json.loads((generated / "manifest.json").read_text())["days"] == DAYS
    assert existing_days(generated)[-1] == START + dt.timedelta(days=DAYS - 1)


def test_no_generated_data_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no generated operational data"):
        append_day(tmp_path)


def test_the_command_appends_the_next_day_and_refuses_a_dir_without_data(copy, tmp_path, capsys):
    from operational.increment import main

    main(["--out", str(copy)])
    assert existing_days(copy)[-1] == START + dt.timedelta(days=DAYS)
    assert f"mesh materialize --day {START + dt.timedelta(days=DAYS)}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2
    assert "run `mesh generate` first" in capsys.readouterr().err

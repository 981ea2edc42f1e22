"""The simulated operational systems: deterministic, internally consistent, realistically skewed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import fields
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from operational import GenerationReport, generate
from operational.__main__ import main
from operational.artists import build_catalog
from operational.common import Window, child_rngs
from operational.plays import build_plays
from operational.registration import build_registration

SCALE = 0.01
START = dt.date(2026, 1, 1)
FIELDS_WITH_CURRENT_VALUE = ("email", "country_code", "full_name", "plan_id")


def _tree_hashes(root: Path, skip: tuple[str, ...] = ("manifest.json",)) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in skip
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return generate(
        tmp_path_factory.mktemp("gen") / "operational", scale=SCALE, days=30, start=START
    )


@pytest.fixture(scope="module")
def db(generated: GenerationReport) -> duckdb.DuckDBPyConnection:
    """DuckDB views over every file (the sqlite tables are copied in through pandas)."""
    out = generated.out_dir
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW plays AS SELECT * FROM read_json('{out}/events/plays/*/*.jsonl', "
        "hive_partitioning = true)"
    )
    for name in ("artists", "tracks", "payments"):
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_csv('{out}/artist_management/{name}.csv', "
            "all_varchar = true)"
        )
    for name in ("countries", "plans"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{out}/reference/{name}.csv')")
    con.execute(
        "CREATE VIEW shows AS SELECT unnest(shows, recursive := true) FROM "
        f"read_json('{out}/podcasts/api/page-*.json')"
    )
    with sqlite3.connect(out / "registration.sqlite") as lite:
        for table in ("listeners", "subscriptions", "profile_changes"):
            frame = pd.read_sql(f"SELECT * FROM {table}", lite)
            con.register(f"{table}_df", frame)
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {table}_df")
            con.unregister(f"{table}_df")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def test_layout_and_manifest(generated: GenerationReport) -> None:
    out = generated.out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["start"] == "2026-01-01"
    assert manifest["scale"] == SCALE and manifest["seed"] == 42 and manifest["days"] == 30
    assert manifest["counts"] == generated.counts
    assert set(generated.counts) == {
        "listeners",
        "subscriptions",
        "profile_changes",
        "play_events",
        "artists",
        "tracks",
        "artist_payments",
        "podcast_shows",
        "podcast_episodes",
        "countries",
        "plans",
    }
    days = sorted(p.name for p in (out / "events" / "plays").iterdir())
    assert days[0] == "date=2026-01-01" and days[-1] == "date=2026-01-30" and len(days) == 30
    assert all(p.stat().st_size > 0 for p in (out / "events" / "plays").glob("*/plays.jsonl"))
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", scale=SCALE, days=7)
    second = generate(tmp_path / "b", scale=SCALE, days=7)
    assert _tree_hashes(first.out_dir) == _tree_hashes(second.out_dir)
    assert first.counts == second.counts

    other = generate(tmp_path / "c", scale=SCALE, days=7, seed=7)
    plays = {k: v for k, v in _tree_hashes(first.out_dir).items() if k.startswith("events")}
    other_plays = {k: v for k, v in _tree_hashes(other.out_dir).items() if k.startswith("events")}
    assert plays.keys() == other_plays.keys()
    assert all(plays[k] != other_plays[k] for k in plays)


def test_play_columns_are_compact_so_scale_100_fits_in_memory() -> None:
    """Scale 100 is ~100 M events: every 8-byte column is 800 MB, and int64 everywhere ran the
    generator out of memory. Only the epoch milliseconds need 8 bytes."""
    window = Window(START, 7)
    rngs = child_rngs(42)
    registration = build_registration(rngs["registration"], 200, window)
    catalog = build_catalog(rngs["artists"], 40, 400, 2_000 / 7, window)
    plays = build_plays(rngs["plays"], 2_000, window, registration, catalog)
    assert len(plays) > 1_000
    widths = {f.name: getattr(plays, f.name).dtype.itemsize for f in fields(plays)}
    assert widths == {
        "listener_id": 4,
        "track_idx": 4,
        "session_no": 4,
        "played_at_ms": 8,
        "ms_played": 4,
        "device_idx": 1,
        "country_idx": 1,
        "completed": 1,
    }


def test_a_day_of_over_a_million_plays_is_written_as_json_lines() -> None:
    """At scale 100 a day holds ~1.1 M plays; pyarrow splits numpy strings of 1 M+ rows into
    chunks, which failed the day's file (`ChunkedArray` has no buffers)."""
    import numpy as np
    import pyarrow as pa

    from operational.plays import Plays, _jsonl

    n = 1_050_000
    plays = Plays(
        listener_id=np.arange(1, n + 1, dtype=np.int32),
        track_idx=np.zeros(n, np.int32),
        session_no=np.ones(n, np.int32),
        played_at_ms=np.arange(n, dtype=np.int64) + 1_767_225_600_000,
        ms_played=np.full(n, 1_000, np.int32),
        device_idx=np.zeros(n, np.int8),
        country_idx=np.zeros(n, np.int8),
        completed=np.ones(n, bool),
    )
    lines = bytes(_jsonl(plays, 0, n, pa.array(["trk_000001"]))).splitlines()
    assert len(lines) == n
    last = json.loads(lines[-1])
    assert last["event_id"] == f"pe_{n:010d}" and last["listener_id"] == n
    assert last["played_at"] == "2026-01-01T00:17:29.999Z"


def test_manifest_counts_equal_actual_counts(generated, db) -> None:
    counts = generated.counts
    assert _one(db, "SELECT count(*) FROM plays") == counts["play_events"]
    assert abs(counts["play_events"] - 1_000_000 * SCALE) <= 0.01 * 1_000_000 * SCALE
    assert _one(db, "SELECT count(*) FROM listeners") == counts["listeners"] == 500
    assert _one(db, "SELECT count(*) FROM subscriptions") == counts["subscriptions"]
    assert _one(db, "SELECT count(*) FROM profile_changes") == counts["profile_changes"]
    assert _one(db, "SELECT count(*) FROM artists") == counts["artists"] == 40
    assert _one(db, "SELECT count(*) FROM tracks") == counts["tracks"] == 400
    assert _one(db, "SELECT count(*) FROM payments") == counts["artist_payments"]
    assert _one(db, "SELECT count(*) FROM shows") == counts["podcast_shows"] == 10
    assert _one(db, "SELECT sum(len(episodes)) FROM shows") == counts["podcast_episodes"]
    assert _one(db, "SELECT count(*) FROM countries") == counts["countries"]
    assert _one(db, "SELECT count(*) FROM plans") == counts["plans"] == 5


def test_keys_are_unique(db) -> None:
    for table, key in (
        ("plays", "event_id"),
        ("listeners", "listener_id"),
        ("listeners", "email"),
        ("tracks", "track_id"),
        ("artists", "artist_id"),
        ("payments", "payment_id"),
        ("shows", "show_id"),
        ("(SELECT unnest(episodes, recursive := true) FROM shows)", "episode_id"),
    ):
        total, distinct = db.execute(
            f"SELECT count(*), count(DISTINCT {key}) FROM {table}"
        ).fetchone()
        assert total == distinct > 0, (table, key)
    assert _one(db, "SELECT count(*) FROM listeners WHERE email <> lower(email)") == 0


def test_plays_reference_existing_listeners_and_tracks(db) -> None:
    orphans = """
        SELECT count(*) FROM plays p
        LEFT JOIN listeners l USING (listener_id)
        LEFT JOIN tracks t USING (track_id)
        WHERE l.listener_id IS NULL OR t.track_id IS NULL
           OR p.played_at::TIMESTAMP <= l.signed_up_at::TIMESTAMP
           OR p.ms_played < 1000 OR p.ms_played > t.duration_ms::BIGINT
           OR p.completed <> (p.ms_played >= 0.95 * t.duration_ms::BIGINT)
           OR p.played_at::TIMESTAMP::DATE <> p.date
    """
    assert _one(db, orphans) == 0
    unknown_country = "SELECT count(*) FROM plays ANTI JOIN countries USING (country_code)"
    assert _one(db, unknown_country) == 0


def test_catalog_references(db) -> None:
    assert _one(db, "SELECT count(*) FROM tracks ANTI JOIN artists USING (artist_id)") == 0
    assert _one(db, "SELECT count(*) FROM payments ANTI JOIN artists USING (artist_id)") == 0
    assert _one(db, "SELECT count(*) FROM listeners ANTI JOIN countries USING (country_code)") == 0
    assert _one(db, "SELECT count(*) FROM listeners ANTI JOIN plans USING (plan_id)") == 0
    # Titles with commas and quotes survive a CSV round trip.
    assert _one(db, "SELECT count(*) FROM tracks WHERE title LIKE '%,%'") > 0
    assert _one(db, "SELECT count(*) FROM tracks WHERE title LIKE '%\"%'") > 0


def test_current_listener_values_equal_last_profile_change(db) -> None:
    for field in FIELDS_WITH_CURRENT_VALUE:
        mismatches = f"""
            SELECT count(*) FROM (
                SELECT listener_id, arg_max(new_value, change_id) AS latest
                FROM profile_changes WHERE field = '{field}' GROUP BY listener_id
            ) c JOIN listeners l USING (listener_id) WHERE l.{field} <> c.latest
        """
        assert _one(db, mismatches) == 0, field
    assert _one(db, "SELECT count(DISTINCT field) FROM profile_changes") == 4
    outside = (
        "SELECT count(*) FROM profile_changes "
        "WHERE changed_at < '2026-01-01' OR changed_at >= '2026-01-31'"
    )
    assert _one(db, outside) == 0
    stale = """
        SELECT count(*) FROM listeners l
        LEFT JOIN (SELECT listener_id, max(changed_at) AS last FROM profile_changes GROUP BY 1) c
            USING (listener_id)
        WHERE l.updated_at <> coalesce(c.last, l.signed_up_at)
    """
    assert _one(db, stale) == 0


def test_subscription_periods_are_consecutive_and_match_plan(db) -> None:
    overlaps = """
        SELECT count(*) FROM subscriptions a JOIN subscriptions b
          ON a.listener_id = b.listener_id AND a.subscription_id < b.subscription_id
         AND a.started_at < coalesce(b.ended_at, '9999') AND b.started_at < coalesce(a.ended_at, '9999')
    """  # noqa: E501
    assert _one(db, overlaps) == 0
    periods = db.execute(
        "SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM subscriptions GROUP BY listener_id)"
    ).fetchone()
    assert periods == (1, 3)
    current_plan = """
        SELECT count(*) FROM listeners l JOIN (
            SELECT listener_id, arg_max(plan_id, started_at) AS plan_id
            FROM subscriptions GROUP BY 1
        ) s USING (listener_id) WHERE s.plan_id <> l.plan_id
    """
    assert _one(db, current_plan) == 0
    plan_change_off_boundary = """
        SELECT count(*) FROM profile_changes c WHERE field = 'plan_id' AND NOT EXISTS (
            SELECT 1 FROM subscriptions s WHERE s.listener_id = c.listener_id
               AND s.started_at = c.changed_at AND s.plan_id = c.new_value)
    """
    assert _one(db, plan_change_off_boundary) == 0
    closed = _one(
        db,
        "SELECT count(*) FROM (SELECT listener_id FROM subscriptions GROUP BY 1 "
        "HAVING count(*) FILTER (WHERE ended_at IS NULL) = 0)",
    )
    assert 0 < closed < 0.2 * _one(db, "SELECT count(*) FROM listeners")


def test_plays_are_skewed(db) -> None:
    top_share = """
        WITH per_track AS (SELECT track_id, count(*) AS n FROM plays GROUP BY 1)
        SELECT sum(n) FILTER (WHERE rk <= 0.01 * k) / sum(n) FROM (
            SELECT n, row_number() OVER (ORDER BY n DESC) AS rk,
                   (SELECT count(*) FROM tracks) AS k FROM per_track)
    """
    assert _one(db, top_share) > 0.15
    per_session = _one(db, "SELECT count(*) / count(DISTINCT session_id) FROM plays")
    assert per_session > 3


def test_invalid_arguments_raise(tmp_path: Path) -> None:
    for kwargs in ({"scale": 0}, {"scale": -1.0}, {"days": 0}, {"scale": float("nan")}):
        with pytest.raises(ValueError):
            generate(tmp_path / "out", **kwargs)
    with pytest.raises(ValueError):
        generate(tmp_path / "out", start=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="start or its end, not both"):
        generate(tmp_path / "out", start=START, end=START)
    assert not (tmp_path / "out").exists()


def test_the_default_window_ends_yesterday_so_the_demo_is_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAFF_DATA_END")
    report = generate(tmp_path / "live", scale=SCALE, days=3)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = sorted(p.name for p in (tmp_path / "live" / "events" / "plays").iterdir())
    assert days == [f"date={yesterday - dt.timedelta(days=n)}" for n in (2, 1, 0)]
    assert report.start == yesterday - dt.timedelta(days=2)


def test_the_window_is_pinned_by_its_end_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned = generate(tmp_path / "a", scale=SCALE, days=5, end=dt.date(2026, 2, 10))
    assert pinned.start == dt.date(2026, 2, 6)
    monkeypatch.setenv("DAFF_DATA_END", "2026-02-10")
    same = generate(tmp_path / "b", scale=SCALE, days=5)
    assert same.start == pinned.start
    assert _tree_hashes(tmp_path / "a") == _tree_hashes(tmp_path / "b")
    main(
        ["--scale", str(SCALE), "--days", "5", "--end", "2026-02-10", "--out", str(tmp_path / "d")]
    )
    assert _tree_hashes(tmp_path / "d") == _tree_hashes(tmp_path / "a")
    with pytest.raises(SystemExit, match="start or its end, not both"):
        main(["--start", "2026-02-06", "--end", "2026-02-10", "--out", str(tmp_path / "e")])
    monkeypatch.setenv("DAFF_DATA_END", "10/02/2026")
    with pytest.raises(ValueError, match="DAFF_DATA_END='10/02/2026' is not a date"):
        generate(tmp_path / "c", scale=SCALE, days=5)


def test_regenerating_replaces_what_it_generated(tmp_path: Path) -> None:
    out = tmp_path / "operational"
    generate(out, scale=SCALE, days=3, start=START)
    (out / "events" / "plays" / "date=2099-01-01").mkdir()
    (out / "artist_management" / "stray.csv").write_text("left over")
    report = generate(out, scale=SCALE, days=2, start=START)
    assert sorted(p.name for p in (out / "events" / "plays").iterdir()) == [
        "date=2026-01-01",
        "date=2026-01-02",
    ]
    assert not (out / "artist_management" / "stray.csv").exists()
    assert json.loads((out / "manifest.json").read_text())["days"] == report.days == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["operational"]


def test_regenerating_keeps_another_systems_files(tmp_path: Path) -> None:
    """Issue 22: an onboarded domain's source files in the operational folder survive `mesh demo`."""
    out = tmp_path / "operational"
    generate(out, scale=SCALE, days=3)
    foreign = out / "merch_reference" / "countries.csv"
    foreign.parent.mkdir()
    foreign.write_text("code,name\nFR,France\n")
    (out / "reference" / "merch_regions.csv").write_text("region\nEU\n")
    (out / "events" / "merch_clicks").mkdir()
    (out / "events" / "merch_clicks" / "clicks.jsonl").write_text("{}\n")
    before = (out / "registration.sqlite").stat().st_ino

    generate(out, scale=SCALE, days=2)

    assert foreign.read_text() == "code,name\nFR,France\n"
    assert (out / "reference" / "merch_regions.csv").read_text() == "region\nEU\n"
    assert (out / "events" / "merch_clicks" / "clicks.jsonl").read_text() == "{}\n"
    assert (out / "registration.sqlite").stat().st_ino != before  # the generated one is fresh
    assert len(list((out / "events" / "plays").iterdir())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["operational"]


def test_generates_beside_foreign_files_but_never_over_them(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("not generated")
    generate(tmp_path, scale=SCALE, days=1)
    assert (tmp_path / "precious.txt").read_text() == "not generated"
    assert (tmp_path / "manifest.json").is_file()

    other = tmp_path / "other"
    (other / "artist_management").mkdir(parents=True)
    (other / "artist_management" / "artists.csv").write_text("not generated")
    with pytest.raises(ValueError, match="refusing"):
        generate(other, scale=SCALE, days=1)
    assert (other / "artist_management" / "artists.csv").read_text() == "not generated"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--scale", "0.001", "--days", "2", "--seed", "3", "--out", str(tmp_path / "cli")])
    line = capsys.readouterr().out.strip()
    assert "play_events=1000" in line and "events/s" in line
    assert json.loads((tmp_path / "cli" / "manifest.json").read_text())["seed"] == 3


def test_mesh_generate_keeps_an_onboarded_domains_sources(tmp_path: Path, monkeypatch) -> None:
    """`mesh generate` (what `mesh demo` runs first) regenerates only its own systems."""
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    operational = tmp_path / "data" / "operational"
    dropped = operational / "merch" / "countries.csv"
    dropped.parent.mkdir(parents=True)
    dropped.write_text("country_code\nFR\n")

    for seed in ("1", "2"):
        result = CliRunner().invoke(app, ["generate", "--scale", "0.001", "--seed", seed])
        assert result.exit_code == 0, result.output
        assert json.loads((operational / "manifest.json").read_text())["seed"] == int(seed)
        assert dropped.read_text() == "country_code\nFR\n"


def test_mesh_generate_end_pins_the_window_and_append_day_lands_the_next_day(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    operational = tmp_path / "data" / "operational"
    plays = operational / "events" / "plays"
    result = CliRunner().invoke(app, ["generate", "--scale", "0.001", "--end", "2026-02-10"])
    assert result.exit_code == 0, result.output
    assert "to 2026-02-10" in result.output
    assert sorted(p.name for p in plays.iterdir())[-1] == "date=2026-02-10"

    result = CliRunner().invoke(app, ["generate", "--append-day"])
    assert result.exit_code == 0, result.output
    assert "2026-02-11" in result.output
    assert (plays / "date=2026-02-11" / "plays.jsonl").stat().st_size > 0
    manifest = json.loads((operational / "manifest.json").read_text())
    assert manifest["appended_days"] == ["2026-02-11"] and manifest["days"] == 91

    result = CliRunner().invoke(app, ["generate", "--end", "11/02/2026"])
    assert result.exit_code != 0 and "--end '11/02/2026' is not a date" in result.output


def test_append_day_refuses_a_day_that_has_not_ended(tmp_path: Path, monkeypatch) -> None:
    """Live data already runs to yesterday: today lands after midnight, not now."""
    monkeypatch.delenv("DAFF_DATA_END")
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    assert CliRunner().invoke(app, ["generate", "--scale", "0.001"]).exit_code == 0
    result = CliRunner().invoke(app, ["generate", "--append-day"])
    assert result.exit_code != 0
    # typer's error box wraps at the terminal's width: compare the words, not the box
    assert "next day lands after midnight UTC" in " ".join(result.output.replace("│", " ").split())
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    plays = tmp_path / "data" / "operational" / "events" / "plays"
    assert sorted(p.name for p in plays.iterdir())[-1] == f"date={yesterday}"


def test_append_day_without_data_says_to_generate_first(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["generate", "--append-day"])
    assert result.exit_code != 0 and "run `mesh generate` first" in result.output

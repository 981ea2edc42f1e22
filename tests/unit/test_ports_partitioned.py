"""Ports of daily products are published per day: a day's publish writes that day only, the
other days are hard links to the previous snapshot, and every snapshot is still whole."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import (
    RETAINED_SNAPSHOTS,
    DayPartitions,
    content_checksum,
    current_snapshot,
    lease_current,
    pointer_path,
    publish_snapshot,
)

DAYS = [date(2026, 1, d) for d in range(1, 6)]


def build(con, days=DAYS, per_day=100, bump: date | None = None):
    """The warehouse table: ``per_day`` plays per day; ``bump`` gets 7 more rows."""
    con.execute(
        "create or replace table plays as "
        "select day::date as event_date, 'e' || day || '-' || i as event_id, i * 10 as ms "
        f"from unnest({[d.isoformat() for d in days]}::date[]) as d(day), range({per_day}) r(i)"
    )
    if bump:
        con.execute(f"insert into plays select date '{bump}', 'late-' || i, i from range(7) r(i)")


def publish(con, ports: Path, days=None, run="run-00000000"):
    spec = DayPartitions("event_date", tuple(days) if days else None)
    return publish_snapshot(
        con, "plays", ports, "playback", "plays", 1, run_id=run, partitions=spec
    )


def test_full_publish_writes_one_file_per_day_with_the_single_file_checksum(tmp_path):
    con = duckdb.connect()
    build(con)
    published = publish(con, tmp_path)
    snapshot = Path(published.path)
    assert snapshot.is_dir()
    assert sorted(f.name for f in snapshot.iterdir()) == [f"{d}.parquet" for d in DAYS]
    assert published.rows == 500
    assert sorted(published.partitions) == [d.isoformat() for d in DAYS]
    # the same rows in one file have the same checksum: layouts are interchangeable
    single = publish_snapshot(con, "plays", tmp_path, "other", "plays", 1)
    assert published.checksum == single.checksum
    pointer = pointer_path(tmp_path, "playback", "plays", 1)
    assert content_checksum(con, pointer) == published.checksum
    assert connect(tmp_path).execute("select count(*) from playback.plays").fetchone()[0] == 500


def test_publishing_one_day_writes_only_that_day_and_links_the_others(tmp_path):
    con = duckdb.connect()
    build(con)
    first = publish(con, tmp_path)
    build(con, bump=DAYS[2])  # the warehouse now has 7 more rows on the third day
    second = publish(con, tmp_path, days=[DAYS[2]], run="run-11111111")
    old, new = Path(first.path), Path(second.path)
    for d in DAYS:
        same = os.stat(old / f"{d}.parquet").st_ino == os.stat(new / f"{d}.parquet").st_ino
        assert same == (d != DAYS[2]), d
    assert second.days_written == [DAYS[2].isoformat()]
    assert second.rows == 507 and second.rows_written == 107
    # whole and right: the checksum equals a fresh full publish of the same table
    assert second.checksum == publish(con, tmp_path / "fresh").checksum
    assert content_checksum(con, pointer_path(tmp_path, "playback", "plays", 1)) == second.checksum
    # the earlier snapshot is untouched
    assert con.execute(f"select count(*) from '{old}'").fetchone()[0] == 500


def test_a_new_day_is_added_and_a_day_that_lost_its_rows_is_dropped(tmp_path):
    con = duckdb.connect()
    build(con)
    publish(con, tmp_path)
    later = date(2026, 1, 6)
    build(con, days=[*DAYS[1:], later])  # day 1 is gone from the table, day 6 arrived
    published = publish(con, tmp_path, days=[DAYS[0], later], run="run-22222222")
    assert sorted(published.partitions) == [d.isoformat() for d in [*DAYS[1:], later]]
    assert published.days_written == [later.isoformat()]
    assert not (Path(published.path) / f"{DAYS[0]}.parquet").exists()
    assert published.rows == 500


def test_a_changed_schema_rewrites_every_day(tmp_path):
    con = duckdb.connect()
    build(con)
    first = publish(con, tmp_path)
    con.execute("alter table plays add column device varchar default 'web'")
    second = publish(con, tmp_path, days=[DAYS[0]], run="run-33333333")
    old, new = Path(first.path), Path(second.path)
    assert all(os.stat(old / f.name).st_ino != os.stat(f).st_ino for f in new.glob("*.parquet"))
    assert con.execute(f"select count(distinct device) from '{new}'").fetchone()[0] == 1
    assert second.rows == 500


def test_an_empty_table_publishes_an_empty_snapshot_with_its_schema(tmp_path):
    con = duckdb.connect()
    build(con, days=[])
    published = publish(con, tmp_path)
    assert published.rows == 0
    pointer = pointer_path(tmp_path, "playback", "plays", 1)
    assert con.execute(f"select count(*) from '{pointer}'").fetchone()[0] == 0
    columns = [r[0] for r in con.execute(f"describe select * from '{pointer}'").fetchall()]
    assert columns == ["event_date", "event_id", "ms"]


def test_a_day_column_that_is_not_a_date_is_refused_naming_it(tmp_path):
    con = duckdb.connect()
    con.execute("create table plays as select 'x' as event_date")
    with pytest.raises(ValueError, match="'event_date'.*VARCHAR.*DATE column"):
        publish(con, tmp_path)
    assert current_snapshot(tmp_path, "playback", "plays", 1) is None


def test_retention_removes_old_directories_but_never_a_leased_one(tmp_path):
    con = duckdb.connect()
    build(con)
    publish(con, tmp_path)
    lease = lease_current(tmp_path, "playback", "plays", 1)
    leased = Path(lease.published.path)
    for i in range(RETAINED_SNAPSHOTS + 2):
        build(con, bump=DAYS[i % len(DAYS)])
        publish(con, tmp_path, days=[DAYS[i % len(DAYS)]], run=f"run-{i:08d}")
    snapshots = pointer_path(tmp_path, "playback", "plays", 1).parent / "snapshots"
    kept = sorted(p for p in snapshots.glob("*.parquet"))
    assert leased in kept and leased.is_dir()  # leased: kept beyond the retention count
    assert len(kept) == RETAINED_SNAPSHOTS + 1
    assert con.execute(f"select count(*) from '{leased}'").fetchone()[0] == 500
    lease.release()
    build(con)
    publish(con, tmp_path, days=[DAYS[0]], run="run-99999999")
    assert not leased.exists()
    assert not leased.with_suffix(".json").exists()
    # removing a directory whose files other snapshots link to leaves those snapshots whole
    current = current_snapshot(tmp_path, "playback", "plays", 1)
    assert content_checksum(con, Path(current.path)) == current.checksum


def test_a_backfill_of_most_days_reports_the_days_it_was_asked_for(tmp_path):
    """Most days asked for: one pass writes every day, but the publish reports (and the
    rejects reconciliation counts) only the days of the run."""
    con = duckdb.connect()
    build(con)
    publish(con, tmp_path)
    published = publish(con, tmp_path, days=DAYS[:3], run="run-44444444")
    assert published.days_written == [d.isoformat() for d in DAYS[:3]]
    assert published.rows_written == 300 and published.rows == 500

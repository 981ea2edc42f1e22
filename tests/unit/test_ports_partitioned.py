"""Ports of daily products are Iceberg tables partitioned by day: a day's publish writes and
replaces that day's files only, the other days' files stay shared, and every snapshot is whole."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from pyiceberg.expressions import EqualTo

from mesh_platform.ports.checksums import content_checksum
from mesh_platform.ports.location import load_catalog, port_store
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.reader import connect
from mesh_platform.ports.retention import RETAINED_SNAPSHOTS, lease_current
from mesh_platform.ports.store import DayPartitions, current_snapshot, snapshot_history

DAYS = [date(2026, 1, d) for d in range(1, 6)]


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    monkeypatch.setenv("MESH_PORTS_GRACE_SECONDS", "0")


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


def rows(con, published) -> int:
    return con.execute(f"select count(*) from read_parquet({published.files})").fetchone()[0]


def checksum(con, published) -> str:
    return content_checksum(con, [Path(f) for f in published.files])


def test_full_publish_writes_one_file_per_day_with_the_single_file_checksum(tmp_path):
    con = duckdb.connect()
    build(con)
    published = publish(con, tmp_path)
    assert len(published.files) == len(DAYS)
    assert published.rows == 500
    assert sorted(published.partitions) == [d.isoformat() for d in DAYS]
    # the same rows in one file have the same checksum: layouts are interchangeable
    single = publish_snapshot(con, "plays", tmp_path, "other", "plays", 1)
    assert published.checksum == single.checksum == checksum(con, published)
    assert connect(tmp_path).execute("select count(*) from playback.plays").fetchone()[0] == 500
    # an Iceberg reader prunes by day: one file for one day
    table = load_catalog(port_store(tmp_path)).load_table(("playback", "plays_v1"))
    assert [f.name for f in table.spec().fields] == ["event_date"]
    one_day = table.scan(row_filter=EqualTo("event_date", DAYS[1].isoformat()))
    assert len(list(one_day.plan_files())) == 1


def test_publishing_one_day_writes_only_that_day_and_keeps_the_others(tmp_path):
    con = duckdb.connect()
    build(con)
    first = publish(con, tmp_path)
    build(con, bump=DAYS[2])  # the warehouse now has 7 more rows on the third day
    second = publish(con, tmp_path, days=[DAYS[2]], run="run-11111111")
    shared = set(first.files) & set(second.files)
    assert len(shared) == len(DAYS) - 1  # the other days' files are the same files
    assert len(set(second.files) - shared) == 1
    assert second.days_written == [DAYS[2].isoformat()]
    assert second.rows == 507 and second.rows_written == 107
    # whole and right: the checksum equals a fresh full publish of the same table
    assert second.checksum == publish(con, tmp_path / "fresh").checksum == checksum(con, second)
    # the earlier snapshot is untouched
    assert rows(con, first) == 500


def test_a_new_day_is_added_and_a_day_that_lost_its_rows_is_dropped(tmp_path):
    con = duckdb.connect()
    build(con)
    publish(con, tmp_path)
    later = date(2026, 1, 6)
    build(con, days=[*DAYS[1:], later])  # day 1 is gone from the table, day 6 arrived
    published = publish(con, tmp_path, days=[DAYS[0], later], run="run-22222222")
    assert sorted(published.partitions) == [d.isoformat() for d in [*DAYS[1:], later]]
    assert published.days_written == [later.isoformat()]
    assert published.rows == 500 == rows(con, published)
    days = con.execute(
        f"select min(event_date), count(distinct event_date) from read_parquet({published.files})"
    ).fetchone()
    assert days == (DAYS[1], 5)


def test_a_changed_schema_rewrites_every_day(tmp_path):
    con = duckdb.connect()
    build(con)
    first = publish(con, tmp_path)
    con.execute("alter table plays add column device varchar default 'web'")
    second = publish(con, tmp_path, days=[DAYS[0]], run="run-33333333")
    assert not set(first.files) & set(second.files)
    assert (
        con.execute(f"select count(distinct device) from read_parquet({second.files})").fetchone()[
            0
        ]
        == 1
    )
    assert second.rows == 500


def test_an_empty_table_publishes_an_empty_snapshot_with_its_schema(tmp_path):
    con = duckdb.connect()
    build(con, days=[])
    published = publish(con, tmp_path)
    assert published.rows == 0 == rows(con, published)
    source = f"read_parquet({published.files})"
    columns = [r[0] for r in con.execute(f"describe select * from {source}").fetchall()]
    assert columns == ["event_date", "event_id", "ms"]


def test_a_day_column_that_is_not_a_date_is_refused_naming_it(tmp_path):
    con = duckdb.connect()
    con.execute("create table plays as select 'x' as event_date")
    with pytest.raises(ValueError, match="'event_date'.*VARCHAR.*DATE column"):
        publish(con, tmp_path)
    assert current_snapshot(tmp_path, "playback", "plays", 1) is None


def test_retention_removes_old_files_but_never_a_leased_snapshot_s(tmp_path):
    con = duckdb.connect()
    build(con)
    publish(con, tmp_path)
    lease = lease_current(tmp_path, "playback", "plays", 1)
    for i in range(RETAINED_SNAPSHOTS + 2):
        build(con, bump=DAYS[i % len(DAYS)])
        publish(con, tmp_path, days=[DAYS[i % len(DAYS)]], run=f"run-{i:08d}")
    kept = snapshot_history(tmp_path, "playback", "plays", 1)
    assert lease.published in kept  # leased: kept beyond the retention count
    assert len(kept) == RETAINED_SNAPSHOTS + 1
    assert rows(con, lease.published) == 500
    lease.release()
    build(con)
    publish(con, tmp_path, days=[DAYS[0]], run="run-99999999")
    kept = snapshot_history(tmp_path, "playback", "plays", 1)
    named = {f for p in kept for f in p.files}
    gone = [f for f in lease.published.files if f not in named]
    assert gone and not any(Path(f).exists() for f in gone)
    # files other snapshots still name stay: every kept snapshot is whole
    assert all(checksum(con, p) == p.checksum for p in kept)


def test_a_backfill_of_most_days_reports_the_days_it_was_asked_for(tmp_path):
    """Most days asked for: one pass writes every day, but the publish reports (and the
    rejects reconciliation counts) only the days of the run."""
    con = duckdb.connect()
    build(con)
    publish(con, tmp_path)
    published = publish(con, tmp_path, days=DAYS[:3], run="run-44444444")
    assert published.days_written == [d.isoformat() for d in DAYS[:3]]
    assert published.rows_written == 300 and published.rows == 500


def test_a_table_in_day_order_is_written_a_day_at_a_time_with_the_same_snapshot(tmp_path):
    """Large tables stored in day order are copied one day at a time (DuckDB skips the other
    days' row groups); scattered days, null days and views keep DuckDB's PARTITION_BY. Both
    publish the same rows, days and checksums."""
    from mesh_platform.ports.publish import ROWS_PER_GROUP, _days_in_order

    con = duckdb.connect()
    per_day = ROWS_PER_GROUP + 7_000  # each day spans two row groups at most
    build(con, days=DAYS[:3], per_day=per_day)  # DuckDB interleaves the days: scattered
    con.execute("create table scattered as select * from plays")
    con.execute("create or replace table plays as select * from plays order by event_date")
    con.execute("create table shuffled as select * from plays order by hash(event_id)")
    con.execute("create view plays_view as select * from plays")
    con.execute("create table with_null as select * from plays")
    con.execute("insert into with_null values (null, 'no-day', 0)")
    assert _days_in_order(con, "plays", "", '"event_date"') == DAYS[:3]
    asked = f" where \"event_date\" in ('{DAYS[1]}'::date)"
    assert _days_in_order(con, "plays", asked, '"event_date"') == [DAYS[1]]
    for relation in ("scattered", "shuffled", "plays_view", "with_null"):
        assert _days_in_order(con, relation, "", '"event_date"') is None, relation

    in_order = publish(con, tmp_path / "a")
    spec = DayPartitions("event_date")
    scattered = publish_snapshot(
        con, "scattered", tmp_path / "b", "playback", "plays", 1, partitions=spec
    )
    assert in_order.rows == scattered.rows == 3 * per_day
    assert in_order.partitions == scattered.partitions  # per-day row counts and checksums
    assert in_order.checksum == scattered.checksum == checksum(con, in_order)
    assert len(in_order.files) == 3
    # a day's publish on the day-ordered table replaces that day only
    build(con, days=DAYS[:3], per_day=per_day, bump=DAYS[2])
    con.execute("create or replace table plays as select * from plays order by event_date")
    again = publish(con, tmp_path / "a", days=[DAYS[2]])
    assert again.rows == 3 * per_day + 7
    assert again.partitions[DAYS[0].isoformat()] == in_order.partitions[DAYS[0].isoformat()]

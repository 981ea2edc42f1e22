"""Setting a daily port's table aside for a rebuild never loses a day: after dbt (or after a
crash, at the next step's start) the new table gets the days only the old one held, or the old
table comes back when dbt built none."""

from __future__ import annotations

import duckdb
import pytest

from mesh_platform.build.window_rebuild import SET_ASIDE_SUFFIX, WholeTable, settle

TABLE = WholeTable("marts", "plays", "event_date")


def _db():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        f"create table marts.plays{SET_ASIDE_SUFFIX} as select * from (values "
        "(date '2026-01-01', 'a'), (date '2026-01-02', 'b'), (date '2026-01-03', 'c')) "
        "t(event_date, event_id)"
    )
    return con


def _rows(con, table="marts.plays"):
    return con.execute(f"select * from {table} order by all").fetchall()


def _set_aside_left(con) -> bool:
    names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
    return f"plays{SET_ASIDE_SUFFIX}" in names


def test_the_new_table_gets_the_days_only_the_old_one_held():
    con = _db()
    # dbt built the table new from sources that no longer hold 2026-01-02
    con.execute(
        "create table marts.plays as select * from (values (date '2026-01-01', 'a2'), "
        "(date '2026-01-03', 'c2')) t(event_date, event_id)"
    )
    settle(con, [TABLE])
    assert [r[1] for r in _rows(con)] == ["a2", "b", "c2"]  # rebuilt days win, 01-02 kept
    assert not _set_aside_left(con)


def test_the_old_table_comes_back_when_dbt_built_none():
    con = _db()
    settle(con, [TABLE])  # dbt failed (or the step crashed) before the table was built
    assert [r[1] for r in _rows(con)] == ["a", "b", "c"]
    assert not _set_aside_left(con)


def test_a_new_table_whose_columns_changed_cannot_take_the_old_days_and_the_old_table_stays():
    con = _db()
    con.execute(
        "create table marts.plays as select date '2026-01-01' as event_date, 'a2' as event_id, "
        "1 as plays_count"
    )
    con.execute("alter table marts.plays alter plays_count set not null")
    with pytest.raises(RuntimeError, match=r"marts.plays was built anew.*previous table was kept"):
        settle(con, [TABLE])
    assert [r[1] for r in _rows(con)] == ["a", "b", "c"]
    assert not _set_aside_left(con)


def test_nothing_set_aside_is_nothing_to_do():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.plays as select date '2026-01-01' as event_date, 'a' as id")
    settle(con, [TABLE])
    assert len(_rows(con)) == 1

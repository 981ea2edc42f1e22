"""The read-only query interface refuses every statement that is not a plain query."""

from __future__ import annotations

import duckdb
import pytest

from mesh_platform.access.errors import QueryRefused
from mesh_platform.access.sql_guard import TableRef, check_statements


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("insert into playback.play_events values (1)", "writes data"),
        ("update artists.artist_royalties set royalty_eur = 0", "writes data"),
        ("delete from artists.artist_royalties", "writes data"),
        ("create table stolen as select 1", "creates objects"),
        ("drop view playback.play_events", "drops objects"),
        ("alter view playback.play_events rename to x", "alters objects"),
        ("copy (select 1) to '/tmp/out.csv'", "copies data to or from files"),
        ("export database '/tmp/everything'", "exports data to files"),
        ("attach '/work/data/warehouse/artists.duckdb' as w", "attaches databases"),
        ("detach w", "detaches databases"),
        ("install httpfs", "installs or loads extensions"),
        ("load httpfs", "installs or loads extensions"),
        ("set enable_external_access = true", "changes settings"),
        ("reset lock_configuration", "changes settings"),
        ("pragma enable_profiling", "runs pragmas"),
        ("call pragma_version()", "calls procedures"),
        ("checkpoint", "calls procedures"),
        ("begin transaction", "controls transactions"),
        ("select 1; drop table x", "drops objects"),
    ],
)
def test_statements_that_are_not_queries_are_refused_naming_their_kind(con, sql, why):
    with pytest.raises(QueryRefused, match=why) as refused:
        check_statements(con, sql)
    assert "read-only" in str(refused.value)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('/etc/passwd')",
        "select * from read_parquet('data/warehouse/*.parquet')",
        "select * from read_text('/etc/hostname')",
        "select * from glob('/root/*')",
        "select * from query('select 1')",
        "select * from sqlite_scan('x.db', 't')",
        "with t as (select * from read_json('x.json')) select * from t",
        "select (select count(*) from read_blob('/etc/shadow'))",
    ],
)
def test_table_functions_that_read_files_or_run_sql_are_refused(con, sql):
    with pytest.raises(QueryRefused, match="table function"):
        check_statements(con, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from '/etc/passwd'",
        "select * from 'data/ports/artists/artist_payments/v1/current.parquet'",
        'select * from "../../warehouse/artists.duckdb"',
        "select * from w.main.t",
    ],
)
def test_direct_file_and_database_references_are_refused(con, sql):
    with pytest.raises(QueryRefused, match="directly"):
        check_statements(con, sql)


def test_queries_pass_and_report_the_tables_they_read(con):
    refs = check_statements(
        con,
        "with top as (select * from artists.artist_royalties) "
        "select t.*, c.title from top t join artists.track_catalog_v1 c using (artist_id), "
        "range(3) r where t.artist_id in (select artist_id from playback.daily_track_plays)",
    )
    assert set(refs) >= {
        TableRef("artists", "artist_royalties"),
        TableRef("artists", "track_catalog_v1"),
        TableRef("playback", "daily_track_plays"),
    }


def test_describe_and_explain_are_allowed(con):
    check_statements(con, "describe artists.artist_royalties")
    check_statements(con, "explain select 1")


def test_empty_and_unparseable_sql_are_refused_clearly(con):
    with pytest.raises(QueryRefused, match="no SQL statement"):
        check_statements(con, "  ")
    with pytest.raises(QueryRefused, match="does not parse"):
        check_statements(con, "selec * frm x")

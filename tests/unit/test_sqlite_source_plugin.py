"""The mesh's SQLite plugin for dbt-duckdb streams a table into DuckDB a batch at a time, with
the values and column types the table holds."""

from __future__ import annotations

import sqlite3

import duckdb
import pytest
from dbt.adapters.duckdb.utils import SourceConfig

from mesh_platform.build.sqlite_source import Plugin


def _source(name: str, **meta) -> SourceConfig:
    return SourceConfig(name=name, identifier=name, schema="crm", database=None, meta=meta, tags=[])


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "crm.sqlite"
    con = sqlite3.connect(path)
    con.execute(
        "create table customers (id integer primary key, name text not null, "
        "score real, manager_id integer, joined_at text, note varchar(20))"
    )
    rows = [
        (1, "Ada", 1.5, None, "2026-01-01", None),
        (2, "Bob", None, 1, "2026-01-02", "vip"),
        (3, "Chloé", 2.0, 1, None, "x"),
        (4, "Dan", 0.0, 2, "2026-01-04", ""),
        (5, "Eve", -1.25, None, "2026-01-05", "last"),
    ]
    con.executemany("insert into customers values (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return path, rows


def _copy(plugin: Plugin, source: SourceConfig) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("df", plugin.load(source))
    con.execute("create table copied as select * from df")
    return con


def test_a_table_is_copied_in_batches_with_its_declared_types(database):
    path, rows = database
    plugin = Plugin("crm_db", {"connection_url": f"sqlite:///{path}", "batch_rows": 2})
    con = _copy(plugin, _source("customers", table="customers"))
    assert con.execute("select * from copied order by id").fetchall() == rows
    types = dict(con.execute("select column_name, column_type from (describe copied)").fetchall())
    # a nullable integer stays an integer (pandas made it a float)
    assert types == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "score": "DOUBLE",
        "manager_id": "BIGINT",
        "joined_at": "VARCHAR",
        "note": "VARCHAR",
    }


def test_a_query_source_is_copied_too(database):
    path, rows = database
    plugin = Plugin("crm_db", {"connection_url": f"sqlite:///{path}", "batch_rows": 2})
    source = _source("managed", query="select id, name from customers where manager_id = 1")
    con = _copy(plugin, source)
    assert con.execute("select * from copied order by id").fetchall() == [(2, "Bob"), (3, "Chloé")]


def test_a_missing_table_or_a_non_sqlite_url_is_named(database, tmp_path):
    path, _ = database
    plugin = Plugin("crm_db", {"connection_url": f"sqlite:///{path}"})
    with pytest.raises(ValueError, match=r"has no table 'clients'"):
        plugin.load(_source("clients", table="clients"))
    with pytest.raises(ValueError, match=r"connection_url 'postgresql://db/crm'.*sqlite:///"):
        Plugin("crm_db", {"connection_url": "postgresql://db/crm"})


def test_declared_types_decide_even_when_the_first_batch_is_all_null(tmp_path):
    """The ADBC driver infers a column's type from its first batch (an all-NULL one would make
    a text column an integer, and the next batch fail); the declared type decides instead.
    Untyped and NUMERIC columns keep every value as text, as written."""
    path = tmp_path / "crm.sqlite"
    con = sqlite3.connect(path)
    con.execute("create table events (id integer, kind text, payload blob, amount numeric, x)")
    rows = [(i, None, None, None, None) for i in range(5)]
    rows += [(5, "signup", b"\x00\x01", 12, "free"), (6, "churn", None, 1.5, 7)]
    con.executemany("insert into events values (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    plugin = Plugin("crm_db", {"connection_url": f"sqlite:///{path}", "batch_rows": 2})
    copied = _copy(plugin, _source("events", table="events"))
    assert copied.execute("select * from copied where id >= 5 order by id").fetchall() == [
        (5, "signup", b"\x00\x01", "12", "free"),
        (6, "churn", None, "1.5", "7"),
    ]
    assert copied.execute("select count(*) from copied").fetchone() == (7,)
    types = dict(
        copied.execute("select column_name, column_type from (describe copied)").fetchall()
    )
    assert types == {
        "id": "BIGINT",
        "kind": "VARCHAR",
        "payload": "BLOB",
        "amount": "VARCHAR",
        "x": "VARCHAR",
    }


def test_a_value_that_does_not_fit_its_declared_type_names_table_and_column(database):
    path, _ = database
    con = sqlite3.connect(path)
    con.execute("insert into customers values (6, 'Fay', 1.0, 'not a number', null, null)")
    con.commit()
    con.close()
    plugin = Plugin("crm_db", {"connection_url": f"sqlite:///{path}", "batch_rows": 2})
    with pytest.raises(Exception, match=r"table 'customers': column 'manager_id' holds a value"):
        _copy(plugin, _source("customers", table="customers"))

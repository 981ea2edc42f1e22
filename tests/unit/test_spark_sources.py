"""A domain's dbt sources, registered in Spark: how each DuckDB reading translates (no Spark)."""

from __future__ import annotations

import os
import sqlite3

import pyarrow.parquet as pq
import pytest

from mesh_platform.build.engines.spark_sources import (
    SparkSourceError,
    reading_statements,
    source_reading,
    source_table_sql,
    sqlite_to_parquet,
)
from mesh_platform.core.manifest import load_mesh_manifest

from ..conftest import REPO


def source(location=None, source_meta=None, **meta):
    if location:
        meta["external_location"] = location
    return {
        "source_name": "crm",
        "name": "orders",
        "schema": "crm",
        "identifier": "orders",
        "source_meta": source_meta or {},
        "meta": meta,
    }


def test_a_csv_export_becomes_a_csv_table_with_its_quoting():
    location = (
        "read_csv('/data/crm/orders.csv', header = true, delim = ',', quote = '\"', "
        "escape = '\"', all_varchar = true)"
    )
    assert source_table_sql(source(location)) == [
        "create database if not exists `crm`",
        "drop table if exists `crm`.`orders`",
        "create table `crm`.`orders` using csv options (`header` 'true', `sep` ',', "
        "`quote` '\"', `escape` '\"', `path` '/data/crm/orders.csv')",
    ]


def test_a_port_is_read_at_the_snapshot_its_pointer_names_now(tmp_path):
    snapshot = tmp_path / "snapshots" / "s1.parquet"
    snapshot.parent.mkdir()
    snapshot.mkdir()
    (tmp_path / "current.parquet").symlink_to(snapshot)
    reading = source_reading(source(f"read_parquet('{tmp_path}/current.parquet')"))
    assert (reading.format, reading.path) == ("parquet", os.path.realpath(snapshot))
    assert not reading.is_view


def test_name_placeholder_and_relative_paths_are_the_projects(tmp_path):
    reading = source_reading(source("read_parquet('../ports/{name}/current.parquet')"), tmp_path)
    assert reading.path == os.path.realpath(
        tmp_path.parent / "ports" / "orders" / "current.parquet"
    )


def test_raw_json_lines_are_text_lines_with_their_folder_day():
    location = (
        "read_csv('/data/events/date=*/*.jsonl', columns = struct_pack(line := 'varchar'), "
        "delim = chr(1), encoding = 'latin-1', hive_partitioning = true)"
    )
    spec = {
        "format": "text",
        "encoding": "latin-1",
        "columns": {"line": "value"},
        "hive_partitions": ["date"],
    }
    statements = source_table_sql(source(location, mesh_spark=spec))
    assert statements[2] == (
        "create table `crm`.`orders__files` using text options "
        "(`path` '/data/events/date=*/*.jsonl')"
    )
    assert statements[3] == (
        "create or replace view `crm`.`orders` as select "
        "decode(cast(`value` as binary), 'ISO-8859-1') as `line`, "
        "regexp_extract(_metadata.file_path, '/date=([^/]*)/', 1) as `date` "
        "from `crm`.`orders__files`"
    )


def test_json_documents_need_multiline_and_keep_their_file_name():
    location = "read_json('/data/api/page-*.json', format = 'auto', filename = true)"
    with pytest.raises(SparkSourceError, match=r"crm\.orders: read_json .*multiLine"):
        source_reading(source(location))
    spec = {"format": "json", "options": {"multiLine": True}, "filename": "filename"}
    statements = source_table_sql(source(location, mesh_spark=spec))
    assert (
        "using json options (`multiLine` 'true', `path` '/data/api/page-*.json')" in (statements[2])
    )
    assert (
        "regexp_replace(_metadata.file_path, '^file:(//(?=/))?', '') as `filename`"
        in (statements[3])
    )


def test_read_json_formats_that_say_it_are_translated():
    lines = source_reading(source("read_json('/d/x.jsonl', format = 'newline_delimited')"))
    array = source_reading(source("read_json('/d/x.json', format = 'array', filename = true)"))
    assert lines.options == {"multiLine": "false"} and not lines.is_view
    assert array.options == {"multiLine": "true"} and array.filename == "filename"


def test_the_tables_spark_keys_win_over_the_sources():
    reading = source_reading(
        source(
            source_meta={
                "mesh_spark": {
                    "format": "csv",
                    "path": "/d/{name}.csv",
                    "options": {"header": True},
                }
            },  # fmt: skip
            mesh_spark={"options": {"header": False, "sep": ";"}},
        )
    )
    assert (reading.format, reading.path) == ("csv", "/d/orders.csv")
    assert reading.options == {"header": "false", "sep": ";"}


def test_an_untranslatable_reading_is_refused_naming_the_source_and_the_fix():
    with pytest.raises(
        SparkSourceError, match=r"crm\.orders: read_csv option columns .*mesh_spark"
    ):
        source_reading(source("read_csv('/x.csv', columns = struct_pack(a := 'varchar'))"))
    with pytest.raises(SparkSourceError, match=r"crm\.orders: cannot translate .*mesh_spark"):
        source_reading(source("read_xlsx('/x.xlsx')"))
    with pytest.raises(SparkSourceError, match=r"crm\.orders has no external_location"):
        source_reading(source())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"format": "avro", "path": "/x"}, "must be one of text, json, csv, parquet, sqlite"),
        (
            {"format": "csv", "path": "/x", "sheet": 1},
            r"unknown `meta.mesh_spark` keys \['sheet'\]",
        ),
        ({"format": "json", "path": "/x", "encoding": "latin-1"}, "`encoding` is for format text"),
        ({"format": "text", "path": "/x", "encoding": "ebcdic"}, "encoding 'ebcdic' unknown"),
        ({"format": "text", "path": "/x", "columns": {"a b": "value"}}, "not a plain column"),
        ({"format": "csv"}, "has no path"),
        ({"format": "sqlite", "path": "/x.db", "options": {"a": 1}}, "sqlite source is its table"),
    ],
)
def test_declarations_spark_cannot_follow_are_refused(spec, message):
    with pytest.raises(SparkSourceError, match=r"^source crm\.orders: .*" + message):
        source_reading(source(mesh_spark=spec))


def write_profile(project, url):
    project.mkdir()
    (project.parent / "profiles.yml").write_text(
        "mesh:\n  outputs:\n    local:\n      type: duckdb\n      plugins:\n"
        f"        - module: sqlalchemy\n          alias: crm_db\n"
        f'          config: {{connection_url: "{url}"}}\n'
    )


def test_a_sqlite_database_behind_a_dbt_duckdb_plugin_is_loaded_from_its_file(tmp_path):
    project = tmp_path / "proj"
    write_profile(project, "sqlite:///{{ env_var('CRM_DIR', '../data') }}/crm.sqlite")
    reading = source_reading(
        source(source_meta={"plugin": "crm_db"}, table="order_lines"),
        project,
        {"CRM_DIR": str(tmp_path / "ops")},
    )
    assert (reading.format, reading.table) == ("sqlite", "order_lines")
    assert reading.path == os.path.realpath(tmp_path / "ops" / "crm.sqlite")
    statements = reading_statements(reading, "/spark/sources/crm/orders")
    assert statements[2] == (
        "create table `crm`.`orders` using parquet options (`path` '/spark/sources/crm/orders')"
    )


def test_a_plugin_that_is_not_sqlite_must_be_declared(tmp_path):
    project = tmp_path / "proj"
    write_profile(project, "postgresql://db/crm")
    with pytest.raises(SparkSourceError, match=r"crm\.orders .* only SQLite .*mesh_spark"):
        source_reading(source(source_meta={"plugin": "crm_db"}), project, {})


def test_a_sqlite_table_becomes_parquet_typed_by_its_values(tmp_path):
    db = tmp_path / "crm.sqlite"
    con = sqlite3.connect(db)
    con.execute("create table orders (id integer, note text, price real, code integer, b blob)")
    con.executemany(
        "insert into orders values (?, ?, ?, ?, ?)",
        [(1, "a", 1.5, 7, b"\x00"), (2, None, 2, "x7", None), (3, "c'", None, None, b"z")],
    )
    con.commit()
    con.close()
    reading = source_reading(source(mesh_spark={"format": "sqlite", "path": str(db)}))
    (tmp_path / "out" / "stale.parquet").parent.mkdir()
    (tmp_path / "out" / "stale.parquet").write_text("from an earlier load")
    folder = sqlite_to_parquet(reading, tmp_path / "out")
    assert [p.name for p in folder.iterdir()] == ["part-00000.parquet"]
    table = pq.read_table(folder)
    assert [str(t) for t in table.schema.types] == ["int64", "string", "double", "string", "binary"]
    assert table.to_pydict() == {
        "id": [1, 2, 3],
        "note": ["a", None, "c'"],
        "price": [1.5, 2.0, None],
        "code": ["7", "x7", None],  # a column mixing integers and text is text
        "b": [b"\x00", None, b"z"],
    }


def test_a_missing_sqlite_table_is_named(tmp_path):
    db = tmp_path / "crm.sqlite"
    sqlite3.connect(db).close()
    reading = source_reading(source(mesh_spark={"format": "sqlite", "path": str(db)}))
    with pytest.raises(SparkSourceError, match=r"crm\.orders: table orders does not exist"):
        sqlite_to_parquet(reading, tmp_path / "out")


def test_every_source_of_every_domain_has_a_spark_reading():
    """The mesh's domains build on Spark as they are: none of their sources is refused."""
    manifest = load_mesh_manifest()
    readings = {}
    for src in manifest["sources"].values():
        project = REPO / "dbt_project" / src["mesh_domain"]
        readings[f"{src['source_name']}.{src['name']}"] = source_reading(src, project).format
    assert readings and set(readings.values()) <= {"text", "json", "csv", "parquet", "sqlite"}


def test_a_source_with_nothing_at_its_path_is_named_before_spark_is_asked(tmp_path):
    from mesh_platform.build.engines.spark_sources import register_sources

    missing = source(f"read_parquet('{tmp_path}/ports/orders/v1/current.parquet')")
    with pytest.raises(SparkSourceError, match=r"crm\.orders: nothing at .*port not published"):
        register_sources(None, [missing], tmp_path / "copies")

"""A port's checksum says whether two builds published the same data, whichever engine built
it: row order, column order, Parquet layout and the last bits of floating-point arithmetic do
not change it; any value that differs does."""

from __future__ import annotations

import duckdb

from mesh_platform.ports.checksums import content_checksum


def write(con, path, select: str):
    con.execute(f"copy ({select}) to '{path}' (format parquet)")
    return content_checksum(con, path)


def test_same_rows_in_another_column_and_row_order_have_the_same_checksum(tmp_path):
    con = duckdb.connect()
    rows = "select i as id, 'n' || i as name, i / 3 as share from range(100) r(i)"
    first = write(con, tmp_path / "a.parquet", rows)
    reordered = f"select share, name, id from ({rows}) order by id desc"
    assert write(con, tmp_path / "b.parquet", reordered) == first


def test_doubles_that_differ_in_their_last_bits_have_the_same_checksum(tmp_path):
    # what Spark and DuckDB give for the same average, summed in another order
    con = duckdb.connect()
    one = write(con, tmp_path / "a.parquet", "select 1 as id, 0.1::double + 0.2::double as share")
    other = write(con, tmp_path / "b.parquet", "select 1 as id, 0.3::double as share")
    assert one == other


def test_a_changed_value_changes_the_checksum(tmp_path):
    con = duckdb.connect()
    base = write(con, tmp_path / "a.parquet", "select i as id, i * 1.5 as x from range(10) r(i)")
    changed = write(
        con,
        tmp_path / "b.parquet",
        "select i as id, case when i = 7 then 0.1 else i * 1.5 end as x from range(10) r(i)",
    )
    assert base.split(":")[0] == changed.split(":")[0] == "10"
    assert base != changed

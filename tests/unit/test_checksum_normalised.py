"""A port's checksum says whether two builds published the same data, whichever engine built
it: row order, column order, Parquet layout and the last bits of floating-point arithmetic do
not change it; any value that differs does."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mesh_platform.ports.checksums import content_checksum
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.store import DayPartitions


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


# One value of every column type a port may have: the types DuckDB reads back from Parquet as
# they are, and those it does not (HUGEINT as DOUBLE, ENUM as VARCHAR, TIMESTAMP_S/_MS as
# TIMESTAMP, BIT as VARCHAR, a fixed-size ARRAY as a LIST, a STRUCT, a MAP).
EVERY_TYPE = {
    "flag": "i % 2 = 0",
    "tiny": "i::tinyint",
    "small": "i::smallint",
    "int": "i::integer",
    "big": "i::bigint",
    "ubig": "i::ubigint",
    "real": "(i / 7)::float",
    "dbl": "i / 7",
    "dec": "(i / 7)::decimal(10, 2)",
    "wide_dec": "(i / 7)::decimal(38, 10)",
    "name": "'n' || i",
    "bytes": "('b' || i)::blob",
    "day": "date '2026-01-01' + i::integer",
    "at": "timestamp '2026-01-01 01:02:03.123456' + to_seconds(i)",
    "at_tz": "timestamptz '2026-01-01 01:02:03+00' + to_seconds(i)",
    "clock": "time '01:02:03'",
    "span": "to_days(i::integer)",
    "id": "'00000000-0000-0000-0000-00000000000' || (i % 10)",
    "huge": "i::hugeint",
    "at_s": "'2026-01-01 01:02:03'::timestamp_s",
    "at_ms": "'2026-01-01 01:02:03.123'::timestamp_ms",
    "kind": "(case when i % 2 = 0 then 'a' else 'b' end)::enum('a', 'b')",
    "bits": "'101'::bit",
    "pair": "[i, i + 1]::integer[2]",
    "nested": "{'a': i, 'b': [i]}",
    "lookup": "map {'k': i}",
}


@pytest.mark.parametrize("column", sorted(EVERY_TYPE))
@pytest.mark.parametrize("per_day", [False, True], ids=["one file", "day files"])
def test_a_published_checksum_is_the_checksum_of_the_published_files(tmp_path, column, per_day):
    # publishing may sum the hashes over the table it wrote the files from (cheaper than
    # decoding the files again): for every column type the sum must be the files' own
    con = duckdb.connect()
    expr = EVERY_TYPE[column]
    if column == "id":
        expr = f"({expr})::uuid"
    con.execute(
        f"create table t as select date '2026-01-01' + (i % 3)::integer as event_date, "
        f"{expr} as {column} from range(30) r(i) order by event_date"
    )
    spec = DayPartitions("event_date") if per_day else None
    published = publish_snapshot(con, "t", tmp_path / "ports", "d", "p", 1, partitions=spec)
    assert published.rows == 30
    assert published.checksum == content_checksum(con, [Path(f) for f in published.files])

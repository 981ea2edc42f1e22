"""Order-independent content checksums of port snapshots.

Each snapshot carries the row count and the 128-bit sum of DuckDB's ``hash()`` of every row's
*normalised* values — columns in name order, floating-point values rounded to single precision
— so two snapshots with the same rows in any order, column order, file layout or engine (DuckDB
or Spark, whose floating-point sums differ in the last bits) have the same checksum. That is
how a rerun after a crash is shown to converge on a clean run's result, a Spark build on a
DuckDB one, and a migrated port on its old snapshot. Checksums of disjoint row sets (a port's
days) add up (:func:`combine_checksums`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mesh_platform.core.sql import quote_ident, quote_literal

# 2: normalised values; per-day checksums of another kind are not combined with these: a
# snapshot of another kind has all its days written again
CHECKSUM_VERSION = 2
FLOAT_TYPES = {"DOUBLE"}  # FLOAT (REAL) is single precision already


def normalised_row_hash(connection: Any, source: str) -> str:
    """SQL of one row's hash over ``source``'s columns in name order, floating-point values
    rounded to single precision: engines sum and divide floats in different orders, which
    changes the last bits of a double (a difference of 1e-13 crosses a single-precision rounding
    boundary about once in 10^6 values, a 12-digit decimal one once in 10); a cast is also a
    third of the cost of formatting."""
    columns = sorted(
        (r[0], str(r[1]).upper())
        for r in connection.execute(f"describe select * from {source}").fetchall()
    )
    fields_sql = ", ".join(
        f"{quote_ident(name)} := "
        + (f"{quote_ident(name)}::float" if kind in FLOAT_TYPES else quote_ident(name))
        for name, kind in columns
    )
    return f"hash(struct_pack({fields_sql}))"


# Column types whose values DuckDB reads back from its own Parquet files as the same type and
# value, so they hash the same in the table and in the file. Others do not (a HUGEINT is
# written as a DOUBLE, an ENUM as a VARCHAR, TIMESTAMP_S/_MS read back as TIMESTAMP, a BIT as
# a VARCHAR); nested types are left out rather than checked field by field.
SAME_IN_PARQUET = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE"
    r"|DECIMAL\(\d+,\s*\d+\)|VARCHAR|BLOB|DATE|TIME|TIMESTAMP|TIMESTAMP WITH TIME ZONE"
    r"|INTERVAL|UUID)$"
)


def checksum_source(connection: Any, files: str, relation: str, where: str = "") -> str:
    """What to compute the checksum of the Parquet ``files`` just written from ``relation``
    (``where``: the rows written) over: the relation itself when every column reads back from
    Parquet as it is, else the files. The relation is DuckDB's own storage, which it scans in
    half the CPU of decoding the files again (50 M play events: about 3 s instead of 7 s); the
    sum is the same either way, as the test of this pins per column type."""
    import duckdb

    try:
        types = [
            str(r[1]).upper()
            for r in connection.execute(f"describe select * from {relation}").fetchall()
        ]
    except duckdb.Error:
        return files
    if types and all(SAME_IN_PARQUET.match(t) for t in types):
        return f"(select * from {relation}{where})"
    return files


def content_checksum(
    connection: Any, parquet: Path | list[Path], relation: str | None = None
) -> str:
    """``<rows>:<hex>`` — the row count and the sum (mod 2^128) of the rows' normalised hashes.

    Independent of row order, column order, file layout (row groups, compression) and of the
    engine that computed the values; cheap (one scan, no sort), and it changes when any value
    of any row does. ``relation``: the relation the file was just written from in full, read
    instead where that gives the same sum (:func:`checksum_source`).
    """
    paths = parquet if isinstance(parquet, list) else [parquet]
    source = f"read_parquet([{', '.join(quote_literal(str(p)) for p in paths)}])"
    if relation is not None:
        source = checksum_source(connection, source, relation)
    rows, total = connection.execute(
        f"select count(*), coalesce(sum({normalised_row_hash(connection, source)}::hugeint), 0) "
        f"from {source}"
    ).fetchone()
    return f"{int(rows)}:{int(total) % (1 << 128):032x}"


def combine_checksums(checksums: Iterator[str] | list[str]) -> str:
    """The checksum of the union of disjoint row sets: rows and hash sums add up."""
    rows = total = 0
    for checksum in checksums:
        n, hexsum = checksum.split(":")
        rows += int(n)
        total += int(hexsum, 16)
    return f"{rows}:{total % (1 << 128):032x}"

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


def content_checksum(connection: Any, parquet: Path | list[Path]) -> str:
    """``<rows>:<hex>`` — the row count and the sum (mod 2^128) of the rows' normalised hashes.

    Independent of row order, column order, file layout (row groups, compression) and of the
    engine that computed the values; cheap (one scan, no sort), and it changes when any value
    of any row does.
    """
    paths = parquet if isinstance(parquet, list) else [parquet]
    source = f"read_parquet([{', '.join(quote_literal(str(p)) for p in paths)}])"
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

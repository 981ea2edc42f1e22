"""A dbt-duckdb plugin copying SQLite tables into DuckDB a batch of rows at a time.

dbt-duckdb's own ``sqlalchemy`` plugin reads the whole table into one pandas DataFrame before
DuckDB copies it: Python objects for every value, outside DuckDB's memory limit (at scale 50
the demo's registration database, 7.5 M rows, took a domain's process to 3.2 GiB while its
DuckDB was bounded to 832 MiB; bench/results/memory-scale-50.md). This plugin hands DuckDB an
Arrow stream of :data:`BATCH_ROWS` rows instead, which DuckDB copies as it reads, so Python
holds one batch at a time. No SQLAlchemy, and no download of DuckDB's sqlite extension at run
time.

A table is read by Apache Arrow's ADBC SQLite driver, which builds the Arrow batches in C:
at scale 50 the three tables copy in 7.1 s instead of 25 s through Python's ``sqlite3`` (and
dbt's two threads no longer contend for the GIL while they copy). The driver infers each
column's type from its first batch; so that the *declared* type decides (SQLite's affinity
rules, :func:`arrow_type`), the query puts one typed row first (dropped again) and reads text
and untyped columns as text. A value that does not fit its column's declared type (text in an
INTEGER column) fails the copy, naming table and column, as it did before. A ``query`` source
keeps the standard library's reader, its types taken from the first rows.

Configured in ``profiles.yml`` like the ``sqlalchemy`` plugin (``connection_url:
sqlite:///<path>``); a source names its ``table`` or a ``query`` in its meta, as there.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from mesh_platform.core.sql import quote_ident

BATCH_ROWS = 50_000
SQLITE_URL_PREFIX = "sqlite:///"


def arrow_type(declared: str) -> pa.DataType:
    """The Arrow type of a SQLite column from its declared type (SQLite's affinity rules)."""
    upper = (declared or "").upper()
    if "INT" in upper:
        return pa.int64()
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in upper:
        return pa.binary()
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    return pa.string()  # NUMERIC affinity and no type: text keeps every value as written


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        url = str(plugin_config.get("connection_url") or "")
        if not url.startswith(SQLITE_URL_PREFIX):
            raise ValueError(
                f"the mesh's SQLite plugin reads SQLite files: connection_url {url!r} should "
                f"be {SQLITE_URL_PREFIX}<path to the .sqlite file>"
            )
        self.path = url.removeprefix(SQLITE_URL_PREFIX)
        self.batch_rows = int(plugin_config.get("batch_rows") or BATCH_ROWS)

    def load(self, source_config: SourceConfig) -> pa.RecordBatchReader:
        if "query" in source_config:
            return self._query(source_config)
        table = source_config.get("table") or source_config.table_name()
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            declared = [
                (row[1], row[2]) for row in con.execute(f"pragma table_info({quote_ident(table)})")
            ]
        finally:
            con.close()
        if not declared:
            raise ValueError(f"SQLite database {self.path} has no table {table!r}")
        schema = pa.schema([(name, arrow_type(kind)) for name, kind in declared])
        return pa.RecordBatchReader.from_batches(
            schema, _table_batches(self.path, table, schema, self.batch_rows)
        )

    def _query(self, source_config: SourceConfig) -> pa.RecordBatchReader:
        # DuckDB reads the stream from its own threads
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            query = source_config["query"].format(**source_config.as_dict())
            cursor = con.execute(query, source_config.get("params", {}))
            names = [d[0] for d in cursor.description]
            first = cursor.fetchmany(self.batch_rows)
            types = [_inferred(values) for values in zip(*first, strict=True)] or [
                pa.string() for _ in names
            ]
        except BaseException:
            con.close()
            raise
        schema = pa.schema(list(zip(names, types, strict=True)))
        return pa.RecordBatchReader.from_batches(
            schema, _batches(con, cursor, first, schema, self.batch_rows)
        )


# The typed first row of a table's query (see the module's docstring): a value of each type.
_FIRST_ROW_VALUE = {pa.int64(): "0", pa.float64(): "0.0", pa.binary(): "x''", pa.string(): "''"}
_MARKER = "__mesh_typed_first_row"
_MISMATCH = re.compile(r"column (\d+)")


def _table_query(table: str, schema: pa.Schema) -> str:
    """The table's rows after one typed row (``_MARKER`` = 1), text columns read as text."""
    first = ", ".join(f"{_FIRST_ROW_VALUE[f.type]} as {quote_ident(f.name)}" for f in schema)
    rows = ", ".join(
        f"cast({quote_ident(f.name)} as text)" if f.type == pa.string() else quote_ident(f.name)
        for f in schema
    )
    return (
        f"select {first}, 1 as {_MARKER} "
        f"union all select {rows}, 0 from {quote_ident(table)}"  # noqa: S608
    )


def _table_batches(
    path: str, table: str, schema: pa.Schema, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    import adbc_driver_sqlite.dbapi as adbc_sqlite
    from adbc_driver_sqlite import StatementOptions

    with adbc_sqlite.connect(f"file:{path}?mode=ro") as con, con.cursor() as cursor:
        cursor.adbc_statement.set_options(**{StatementOptions.BATCH_ROWS.value: str(batch_rows)})
        cursor.execute(_table_query(table, schema))
        reader = cursor.fetch_record_batch()
        try:
            for batch in reader:
                rows = batch.filter(pc.equal(batch.column(_MARKER), 0))
                yield pa.RecordBatch.from_arrays(rows.columns[:-1], schema=schema)
        except OSError as exc:  # the driver's "Type mismatch in column N: expected …"
            raise ValueError(_mismatch(path, table, schema, exc)) from exc


def _mismatch(path: str, table: str, schema: pa.Schema, exc: Exception) -> str:
    found = _MISMATCH.search(str(exc))
    column = (
        f"column {schema.field(int(found[1])).name!r} "
        if found and int(found[1]) < len(schema)
        else ""
    )
    return (
        f"SQLite database {path}, table {table!r}: {column}holds a value that does not fit "
        f"its declared type ({exc}). Fix the value in the source system, or declare the "
        "column's type as it is (TEXT keeps any value as text)."
    )


def _inferred(values: tuple) -> pa.DataType:
    kind = pa.array(values).type
    return pa.string() if pa.types.is_null(kind) else kind


def _batches(
    con, cursor, first: list, schema: pa.Schema, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    try:
        rows = first
        while rows:
            columns = list(zip(*rows, strict=True))
            yield pa.RecordBatch.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
            rows = cursor.fetchmany(batch_rows)
    finally:
        con.close()

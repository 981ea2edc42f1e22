"""A dbt-duckdb plugin copying SQLite tables into DuckDB a batch of rows at a time.

dbt-duckdb's own ``sqlalchemy`` plugin reads the whole table into one pandas DataFrame before
DuckDB copies it: Python objects for every value, outside DuckDB's memory limit (at scale 50
the demo's registration database, 7.5 M rows, took a domain's process to 3.2 GiB while its
DuckDB was bounded to 832 MiB; bench/results/memory-scale-50.md). This plugin hands DuckDB an
Arrow stream of :data:`BATCH_ROWS` rows instead, which DuckDB copies as it reads, so Python
holds one batch at a time. It reads SQLite with the standard library (no SQLAlchemy, no
download of DuckDB's sqlite extension at run time).

Configured in ``profiles.yml`` like the ``sqlalchemy`` plugin (``connection_url:
sqlite:///<path>``); a source names its ``table`` or a ``query`` in its meta, as there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
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
        # DuckDB reads the stream from its own threads
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            if "query" in source_config:
                query = source_config["query"].format(**source_config.as_dict())
                cursor = con.execute(query, source_config.get("params", {}))
                types = None  # taken from the first rows
            else:
                table = source_config.get("table") or source_config.table_name()
                declared = {
                    row[1]: row[2]
                    for row in con.execute(f"pragma table_info({quote_ident(table)})")
                }
                if not declared:
                    raise ValueError(f"SQLite database {self.path} has no table {table!r}")
                cursor = con.execute(f"select * from {quote_ident(table)}")  # noqa: S608
                types = [arrow_type(declared[d[0]]) for d in cursor.description]
            names = [d[0] for d in cursor.description]
            first = cursor.fetchmany(self.batch_rows)
            if types is None:
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

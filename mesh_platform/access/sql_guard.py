"""What the read-only query interface refuses, and why, before DuckDB sees a statement.

Two layers. This one reads each statement's type (DuckDB's own parser) and, for queries, the
parse tree (``json_serialize_sql``): anything but a query is refused with the kind named, and so
is a query that reads a file or calls a file-reading table function. The second layer is the
connection itself (:mod:`mesh_platform.access.query`): external access disabled and the
configuration locked, so even a statement this module misjudged cannot touch a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from mesh_platform.access.errors import QueryRefused

_REFUSED_KINDS = {
    "INSERT": "writes data",
    "UPDATE": "writes data",
    "DELETE": "writes data",
    "MERGE_INTO": "writes data",
    "CREATE": "creates objects (writes)",
    "CREATE_FUNC": "creates objects (writes)",
    "DROP": "drops objects (writes)",
    "ALTER": "alters objects (writes)",
    "COPY": "copies data to or from files",
    "COPY_DATABASE": "copies databases",
    "EXPORT": "exports data to files",
    "ATTACH": "attaches databases",
    "DETACH": "detaches databases",
    "LOAD": "installs or loads extensions",
    "SET": "changes settings",
    "VARIABLE_SET": "changes settings",
    "PRAGMA": "runs pragmas",
    "CALL": "calls procedures",
    "TRANSACTION": "controls transactions",
    "VACUUM": "maintains storage",
    "ANALYZE": "maintains storage",
    "PREPARE": "prepares statements",
    "EXECUTE": "executes prepared statements",
    "UPDATE_EXTENSIONS": "updates extensions",
}
ALLOWED_KINDS = {"SELECT", "EXPLAIN"}
# Table functions that only generate or describe, never read outside the connection.
SAFE_TABLE_FUNCTIONS = {
    "range",
    "generate_series",
    "unnest",
    "duckdb_columns",
    "duckdb_tables",
    "duckdb_views",
    "duckdb_schemas",
    "duckdb_types",
    "duckdb_functions",
    "duckdb_keywords",
    "pragma_table_info",
    "pragma_show",
    "summary",
}


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _refuse(statement: str, why: str) -> QueryRefused:
    text = " ".join(statement.split())
    return QueryRefused(
        f"refused: `{text[:80]}` {why}; the mesh's query interface is read-only and reads "
        "published output ports only (views named <domain>.<port>)"
    )


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[TableRef]:
    """Refuse what is not a plain query; return the tables the queries reference."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise QueryRefused(f"the SQL does not parse: {exc}") from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    refs: list[TableRef] = []
    for statement in statements:
        kind = statement.type.name
        if kind not in ALLOWED_KINDS:
            raise _refuse(statement.query, _REFUSED_KINDS.get(kind, f"is a {kind} statement"))
        if kind == "SELECT":
            refs += _query_refs(con, statement.query)
    return refs


def _query_refs(con: duckdb.DuckDBPyConnection, query: str) -> list[TableRef]:
    tree = json.loads(con.execute("select json_serialize_sql($1)", [query]).fetchall()[0][0])
    if tree.get("error"):
        return []  # DuckDB reports the real parse error when the query runs
    refs = []
    for node in _walk(tree.get("statements")):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in SAFE_TABLE_FUNCTIONS:
                raise _refuse(
                    query, f"calls the table function {name}(), which may read files or run SQL"
                )
        elif kind == "BASE_TABLE":
            schema, name = node.get("schema_name") or "", node.get("table_name") or ""
            if node.get("catalog_name") or "/" in name or "." in name or "\\" in name:
                raise _refuse(
                    query, f"reads {name!r} directly: files and other databases are off limits"
                )
            refs.append(TableRef(schema, name))
    return refs

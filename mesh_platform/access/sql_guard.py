"""What the read-only query interface refuses, and why, before DuckDB sees a statement.

Two layers. This one reads each statement's type (DuckDB's own parser) and the parse tree of the
query (``json_serialize_sql``), walking every node: anything but one query is refused with the
kind named; so is a query that reads a file, calls a table function not on
:data:`ALLOWED_TABLE_FUNCTIONS`, or reads the server's settings (``current_setting``,
``SHOW <setting>``). ``EXPLAIN`` and ``EXPLAIN ANALYZE`` are checked as the query they wrap (the
latter runs it). A query the parser cannot serialize is refused rather than run unchecked. The
second layer is the connection itself (:mod:`mesh_platform.access.query`): external access
disabled, a private temporary directory and the configuration locked, so even a statement this
module misjudged cannot touch a file.

Every table function and table macro DuckDB offers is decided here, in
:data:`ALLOWED_TABLE_FUNCTIONS` or :data:`DENIED_TABLE_FUNCTIONS`; a test fails when a DuckDB
upgrade brings one that is in neither, and until then the guard refuses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from mesh_platform.access.errors import QueryRefused
from mesh_platform.core.sql import parse_tree_nodes

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
    "MULTI": "runs several statements (PIVOT and the like)",
}
ALLOWED_KINDS = {"SELECT", "EXPLAIN"}

_GENERATES = "generates rows from its arguments"
_DESCRIBES = "describes the connection's own views and types"
# Table functions (and table macros) a query may call: each only generates rows or describes the
# connection's own catalog (which holds nothing but the user's port views).
ALLOWED_TABLE_FUNCTIONS = {
    "range": _GENERATES,
    "generate_series": _GENERATES,
    "unnest": _GENERATES,
    "repeat": _GENERATES,
    "repeat_row": _GENERATES,
    "json_each": "unnests a JSON value",
    "json_tree": "unnests a JSON value",
    "duckdb_columns": _DESCRIBES,
    "duckdb_constraints": _DESCRIBES,
    "duckdb_functions": _DESCRIBES,
    "duckdb_keywords": _DESCRIBES,
    "duckdb_schemas": _DESCRIBES,
    "duckdb_tables": _DESCRIBES,
    "duckdb_types": _DESCRIBES,
    "duckdb_views": _DESCRIBES,
    "pragma_show": _DESCRIBES,
    "pragma_table_info": _DESCRIBES,
    "summary": "summarizes a query (SUMMARIZE)",
    "pg_timezone_names": "lists time zones",
    "icu_calendar_names": "lists calendars",
}

_READS_FILES = "reads files"
_RUNS_SQL = "runs SQL given as text, which the guard cannot check"
_REVEALS = "reveals the server's settings, paths or environment"
_CHANGES = "changes the server's state (logging, profiling, checkpoints, resources)"
_SCANS = "scans Python or Arrow objects by address"
_NOT_NEEDED = "is not needed to read ports"
DENIED_TABLE_FUNCTIONS = {
    **dict.fromkeys(
        [
            "glob",
            "parquet_bloom_probe",
            "parquet_file_metadata",
            "parquet_full_metadata",
            "parquet_kv_metadata",
            "parquet_metadata",
            "parquet_scan",
            "parquet_schema",
            "read_blob",
            "read_csv",
            "read_csv_auto",
            "read_duckdb",
            "read_json",
            "read_json_auto",
            "read_json_objects",
            "read_json_objects_auto",
            "read_ndjson",
            "read_ndjson_auto",
            "read_ndjson_objects",
            "read_parquet",
            "read_single_csv_file",
            "read_single_json_file",
            "read_single_parquet_file",
            "read_text",
            "sniff_csv",
        ],
        _READS_FILES,
    ),
    **dict.fromkeys(
        ["query", "query_table", "json_execute_serialized_sql", "histogram", "histogram_values"],
        _RUNS_SQL,
    ),
    **dict.fromkeys(
        [
            "duckdb_settings",
            "duckdb_profiling_settings",
            "duckdb_secrets",
            "duckdb_secret_types",
            "duckdb_secret_type_parameters",
            "which_secret",
            "duckdb_extensions",
            "duckdb_extension_repositories",
            "duckdb_databases",
            "duckdb_temporary_files",
            "duckdb_external_file_cache",
            "duckdb_memory",
            "duckdb_logs",
            "duckdb_logs_parsed",
            "duckdb_log_contexts",
            "duckdb_variables",
            "duckdb_prepared_statements",
            "duckdb_connection_count",
            "duckdb_approx_database_count",
            "duckdb_eviction_queues",
            "pragma_database_size",
            "pragma_storage_info",
            "pragma_metadata_info",
            "pragma_platform",
            "pragma_user_agent",
            "pragma_version",
        ],
        _REVEALS,
    ),
    **dict.fromkeys(
        [
            "checkpoint",
            "force_checkpoint",
            "enable_logging",
            "disable_logging",
            "truncate_duckdb_logs",
            "enable_profiling",
            "disable_profiling",
            "register_external_resource",
            "register_external_resource_type",
            "create_external_resource",
            "deregister_external_resource",
            "destroy_external_resource",
        ],
        _CHANGES,
    ),
    **dict.fromkeys(
        [
            "arrow_scan",
            "arrow_scan_dumb",
            "pandas_scan",
            "python_arrow_scan",
            "python_map_function",
        ],
        _SCANS,
    ),
    **dict.fromkeys(
        [
            "seq_scan",
            "duckdb_table_sample",
            "duckdb_dependencies",
            "duckdb_indexes",
            "duckdb_sequences",
            "duckdb_triggers",
            "duckdb_optimizers",
            "duckdb_available_metrics",
            "duckdb_dialects",
            "duckdb_grammar_extensions",
            "duckdb_coordinate_systems",
            "duckdb_external_resources",
            "duckdb_external_resource_types",
            "pragma_collations",
            "test_all_types",
            "test_vector_types",
        ],
        _NOT_NEEDED,
    ),
}

# Scalar functions (and macros) refused wherever they appear.
DENIED_SCALAR_FUNCTIONS = {
    "current_setting": "reveals the server's settings (its directories, the user it runs as)",
    "getenv": "reads the server's environment variables",
    "write_log": "writes to the server's log",
    "get_block_size": "reveals the server's storage (it calls pragma_database_size())",
}
# SHOW TABLES / SHOW ALL TABLES / SHOW DATABASES; ``SHOW <setting>`` is refused.
_ALLOWED_SHOW_SPECIAL = {"tables", "__show_tables_expanded", "databases"}


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str


def _refuse(statement: str, why: str) -> QueryRefused:
    text = " ".join(statement.split())
    return QueryRefused(
        f"refused: `{text[:80]}` {why}; the mesh's query interface is read-only and reads "
        "published output ports only (views named <domain>.<port>)"
    )


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[TableRef]:
    """Refuse what is not one plain query; return the tables the query references."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise QueryRefused(f"the SQL does not parse: {exc}") from None
    if not statements:
        raise QueryRefused("no SQL statement given")
    for statement in statements:
        kind = statement.type.name
        if kind not in ALLOWED_KINDS:
            raise _refuse(statement.query, _REFUSED_KINDS.get(kind, f"is a {kind} statement"))
    if len(statements) > 1:
        raise QueryRefused(
            f"refused: the SQL holds {len(statements)} statements; send one statement per query"
        )
    statement = statements[0]
    if statement.type.name == "EXPLAIN":
        return _query_refs(con, _explained(con, statement.query), shown=statement.query)
    return _query_refs(con, statement.query)


def _explained(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """The query an ``EXPLAIN [ANALYZE] <query>`` wraps, as DuckDB's tokenizer splits it."""
    raw = text.encode()  # the tokenizer's offsets count bytes
    found = duckdb.tokenize(text)
    ends = [offset for offset, _ in found[1:]] + [len(raw)]
    tokens = [
        (offset, raw[offset:end].decode().strip().lower())
        for (offset, kind), end in zip(found, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]
    words = [word for _, word in tokens]
    start = 1 if words[:1] == ["explain"] else None
    if start is not None and words[start : start + 1] in (["analyze"], ["analyse"]):
        start += 1
    if start is None or start >= len(tokens) or words[start].startswith("("):
        raise _refuse(text, "is an EXPLAIN form the query interface does not offer")
    inner = raw[tokens[start][0] :].decode()
    try:
        wrapped = con.extract_statements(inner)
    except duckdb.ParserException:
        wrapped = []
    if len(wrapped) != 1 or wrapped[0].type.name != "SELECT":
        kind = wrapped[0].type.name if len(wrapped) == 1 else "statement"
        why = _REFUSED_KINDS.get(kind, f"explains a {kind}")
        raise _refuse(text, f"explains a statement that {why}" if kind in _REFUSED_KINDS else why)
    return wrapped[0].query


def _name(value: Any) -> str:
    return str(value or "").strip().strip('"').lower()


def _setting_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        name.lower() for (name,) in con.execute("select name from duckdb_settings()").fetchall()
    }


def _query_refs(
    con: duckdb.DuckDBPyConnection, query: str, shown: str | None = None
) -> list[TableRef]:
    shown = shown or query
    tree = json.loads(con.execute("select json_serialize_sql($1)", [query]).fetchall()[0][0])
    if tree.get("error"):
        raise _refuse(shown, f"could not be checked ({tree.get('error_message', 'unknown')})")
    refs = []
    for node in parse_tree_nodes(tree.get("statements")):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = _name((node.get("function") or {}).get("function_name"))
            if name in DENIED_TABLE_FUNCTIONS:
                raise _refuse(
                    shown,
                    f"calls the table function {name}(), which {DENIED_TABLE_FUNCTIONS[name]}",
                )
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise _refuse(
                    shown,
                    f"calls the table function {name}(), which is not on the allow list of "
                    "table functions that only generate rows or describe the ports",
                )
        elif node.get("class") == "FUNCTION":
            name = _name(node.get("function_name"))
            if name in DENIED_SCALAR_FUNCTIONS:
                raise _refuse(
                    shown, f"calls the function {name}(), which {DENIED_SCALAR_FUNCTIONS[name]}"
                )
        elif kind == "SHOW_REF":
            _check_show(con, node, shown)
        elif kind == "BASE_TABLE":
            schema, name = node.get("schema_name") or "", node.get("table_name") or ""
            if node.get("catalog_name") or "/" in name or "." in name or "\\" in name:
                raise _refuse(
                    shown, f"reads {name!r} directly: files and other databases are off limits"
                )
            refs.append(TableRef(schema, name))
    return refs


def _check_show(con: duckdb.DuckDBPyConnection, node: dict[str, Any], shown: str) -> None:
    show, name = node.get("show_type"), _name(node.get("table_name"))
    if show == "SHOW_SPECIAL" and name not in _ALLOWED_SHOW_SPECIAL:
        raise _refuse(shown, f"runs SHOW {name}, which the query interface does not offer")
    if show == "SHOW" and node.get("query") is None and name in _setting_names(con):
        raise _refuse(
            shown, f"shows the server setting {name}, which reveals the server's settings"
        )

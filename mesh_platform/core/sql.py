"""SQL text built from names: every identifier and literal goes through these two helpers.

Table, column, domain and port names come from validated descriptors (``[a-z][a-z0-9_]*``),
but quoting them anyway means a surprising name can only ever be a name, never SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a single-quoted SQL string literal (embedded quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def quote_value(value: object) -> str:
    """A Python value as a SQL literal: booleans and numbers as themselves, anything else as
    quoted text (contract thresholds and valid values come as either)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return quote_literal(str(value))


def qualified(*parts: str) -> str:
    """A dotted name, each part quoted: ``qualified("sales", "orders")`` → ``"sales"."orders"``."""
    return ".".join(quote_ident(p) for p in parts)


def parse_tree_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every node (a mapping) of a parse tree from DuckDB's ``json_serialize_sql``, depth first:
    what the query guard and the contract reads look for tables and functions in."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from parse_tree_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from parse_tree_nodes(value)

"""A contract that reads a table this run held back and that was never built.

A check's SQL may read another model of the domain (a ``failed_rows`` expression such as
``artist_id not in (select artist_id from marts.artist_profiles)``). When the step held that
model back (its source drifted, an upstream port it reads was never published) and its table
does not exist yet, Soda runs all of the contract's checks in one query, that query fails on
the missing table, and every check comes back ``NOT_EVALUATED`` beside DuckDB's "Table with
name artist_profiles does not exist!": true, but it hides the cause and reads as bad data.

:func:`unbuilt_reads` finds those checks before Soda runs, so the step can say which held-back
model the port waits for instead. Table names are taken from the SQL by DuckDB's own parser
(``json_serialize_sql``), not by pattern matching; SQL that DuckDB cannot parse (another
engine's dialect) is left to Soda, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from mesh_platform.core.contracts import ContractSpec, read_contract_document
from mesh_platform.core.sql import parse_tree_nodes

# the keys of a Soda v4 check (or of the dataset) whose value is SQL
SQL_KEYS = ("expression", "query", "filter")


@dataclass(frozen=True)
class UnbuiltRead:
    """A check of a port's contract that reads the table of a held-back, never-built model."""

    check: str  # the check's name as Dagster shows it, or "dataset filter"
    model: str  # the held-back model's name
    relation: str  # schema.table it would have been built as


def missing_relations(
    con: Any, manifest: Mapping[str, Any], held_back: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """Table name (lower case) -> (model name, schema) of each held-back model whose relation
    does not exist on ``con`` (a DuckDB connection: the domain's file or the audit's views)."""
    missing = {}
    for uid in held_back:
        node = manifest["nodes"][uid]
        table = node.get("alias") or node["name"]
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where lower(table_schema) = lower(?) and lower(table_name) = lower(?)",
            [node["schema"], table],
        ).fetchone()[0]
        if not exists:
            missing[table.lower()] = (node["name"], node["schema"])
    return missing


def tables_read(sql: str, *, whole_query: bool) -> set[str]:
    """Unqualified table names (lower case) that ``sql`` reads; empty if DuckDB cannot parse it.

    DuckDB's parser only (``json_serialize_sql``): nothing is bound, so a query over tables
    that do not exist parses. An expression or filter is parsed as the select list of a query,
    where both a row-level predicate and an aggregate are valid. Names of the query's own
    common table expressions are not tables."""
    query = sql if whole_query else f"select ({sql}) from __mesh_checked_dataset"
    with duckdb.connect() as parser:
        tree = json.loads(parser.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        return set()
    tables: set[str] = set()
    ctes: set[str] = set()
    for node in parse_tree_nodes(tree):
        if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
            tables.add(node["table_name"].lower())
        for entry in (node.get("cte_map") or {}).get("map") or []:
            ctes.add(str(entry.get("key", "")).lower())
    return tables - ctes - {"__mesh_checked_dataset"}


def _sql_of(config: Mapping[str, Any]) -> Iterable[tuple[str, bool]]:
    for key in SQL_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value.strip():
            yield value, key == "query"


def unbuilt_reads(
    contract: ContractSpec, missing: Mapping[str, tuple[str, str]]
) -> list[UnbuiltRead]:
    """The checks of ``contract`` (and its dataset filter) reading a relation in ``missing``."""
    if not missing:
        return []
    found = []
    dataset_filter = read_contract_document(contract.path).get("filter")
    sources = [(c.name, c.config) for c in contract.checks]
    sources.append(("dataset filter", {"filter": dataset_filter}))
    for check, config in sources:
        for sql, whole in _sql_of(config):
            for table in sorted(tables_read(sql, whole_query=whole) & set(missing)):
                model, schema = missing[table]
                found.append(UnbuiltRead(check, model, f"{schema}.{table}"))
    return found


def describe_unbuilt_reads(
    domain: str, product: str, address: str, version: int, reads: list[UnbuiltRead]
) -> str:
    """The step's message for a port whose contract could not be evaluated, and what to do."""
    models = sorted({r.model for r in reads})
    lines = [
        f"domain {domain}, product {product}: output port {address} v{version} was built but "
        "NOT verified or published: its contract reads "
        + ", ".join(sorted({f"{r.relation} (model {r.model})" for r in reads}))
        + ", which this run held back (see the message above for why) and which has never been "
        "built, so none of its checks could run; consumers keep reading the previous snapshot."
    ]
    lines += [f"  - check {r.check} reads {r.relation}" for r in reads]
    lines.append(
        f"  Once {', '.join(models)} builds (fix what holds it back), rerun; nothing else needs "
        "to change."
    )
    return "\n".join(lines)

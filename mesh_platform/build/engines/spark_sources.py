"""Registering the dbt sources a domain's models read as tables of its Spark session.

(Temporary on main: the source adapters per kind are being written on their own branch.)
"""

from __future__ import annotations

import os
import re
from typing import Any

READER = re.compile(r"^\s*(read_csv|read_parquet)\(\s*'([^']+)'\s*(?:,(.*))?\)\s*$", re.DOTALL)
OPTION = re.compile(r"(\w+)\s*=\s*('(?:[^']|'')*'|[\w.]+)")
# DuckDB read_csv options → Spark CSV data source options
CSV_OPTIONS = {
    "header": "header",
    "delim": "sep",
    "sep": "sep",
    "quote": "quote",
    "escape": "escape",
}
CSV_IGNORED = {"all_varchar"}  # Spark reads CSV columns as strings unless inferSchema is set


class SparkSourceError(ValueError):
    pass


def source_table_sql(source: dict[str, Any]) -> list[str]:
    """Spark DDL registering one dbt source as the external table the ``spark`` target reads."""
    meta = {**source.get("source_meta", {}), **source.get("meta", {})}
    location = meta.get("external_location")
    name = f"{source['source_name']}.{source['name']}"
    if not location:
        raise SparkSourceError(
            f"source {name} has no external_location (e.g. it is read through a dbt-duckdb "
            "plugin): register it in Spark's metastore yourself before building on Spark"
        )
    match = READER.match(location.replace("{name}", source["name"]))
    if not match:
        raise SparkSourceError(
            f"source {name}: cannot translate {location.strip()!r} to Spark; supported readers "
            "are read_csv and read_parquet"
        )
    reader, path, raw_options = match.groups()
    options: dict[str, str] = {}
    if reader == "read_parquet":
        fmt = "parquet"
        path = os.path.realpath(path)  # the snapshot the port's pointer names right now
    else:
        fmt = "csv"
        for key, value in OPTION.findall(raw_options or ""):
            key = key.lower()
            value = value[1:-1].replace("''", "'") if value.startswith("'") else value.lower()
            if key in CSV_OPTIONS:
                options[CSV_OPTIONS[key]] = value
            elif key not in CSV_IGNORED:
                raise SparkSourceError(f"source {name}: read_csv option {key!r} has no Spark twin")
    options["path"] = path
    rendered = ", ".join(f"{k} '{_quote(v)}'" for k, v in options.items())
    schema, table = source["schema"], source["identifier"]
    return [
        f"create database if not exists {schema}",
        f"drop table if exists {schema}.{table}",
        f"create table {schema}.{table} using {fmt} options ({rendered})",
    ]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def domain_sources(manifest, domain: str) -> list[dict[str, Any]]:
    """The sources a domain's models read (its operational systems and upstream ports); the
    manifest is the domain's own project's."""
    used = set()
    for node in manifest.nodes.values():
        if node.resource_type == "model":
            used |= {d for d in node.depends_on.nodes if d.startswith("source.")}
    return [manifest.sources[uid].to_dict() for uid in sorted(used)]


def register_sources(spark, manifest, domain: str) -> list[str]:
    """Register every source the domain's models read; returns the tables registered."""
    names = []
    for source in domain_sources(manifest, domain):
        for statement in source_table_sql(source):
            spark.sql(statement)
        names.append(f"{source['schema']}.{source['identifier']}")
    return names

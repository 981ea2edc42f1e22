"""Source schema drift: the columns an operational source is declared to have, against the
columns it has today.

An operational source (a dbt source without ``meta.mesh_port``) declares its columns in its
domain's ``models/staging/_<domain>__sources.yml``, dbt-natively: the table's ``columns:``, each
with a ``data_type`` (types are compared when declared; a column without one is checked by
name only). Before a domain's step builds anything, the source is read cheaply — DuckDB's
``DESCRIBE`` over the table's ``external_location`` (CSV, JSON, Parquet), ``PRAGMA
table_info`` for a SQLite database behind a ``meta.plugin`` connection — and a new, missing or
retyped column stops the models built from it. A source may accept new columns with
``config: {meta: {mesh_schema_drift: allow_new_columns}}``; a source that declares no columns
is not checked.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_platform.core import yaml_io
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.manifest import profiles_dir, source_port_address

DRIFT_META = "mesh_schema_drift"
ALLOW_NEW_COLUMNS = "allow_new_columns"
POLICIES = ("block", ALLOW_NEW_COLUMNS)

# Spellings of one type, so a declaration may say `text` or `integer` like its database does.
_ALIASES = {
    "text": "varchar",
    "string": "varchar",
    "char": "varchar",
    "int": "bigint",
    "integer": "bigint",
    "int4": "bigint",
    "int8": "bigint",
    "int64": "bigint",
    "long": "bigint",
    "real": "double",
    "float": "double",
    "float8": "double",
    "numeric": "double",
    "datetime": "timestamp",
    "timestamp with time zone": "timestamptz",
    "bool": "boolean",
}


def normalize_type(data_type: str) -> str:
    text = re.sub(r"\s+", " ", str(data_type).strip().lower())
    return _ALIASES.get(text, text)


@dataclass(frozen=True)
class ColumnChange:
    column: str
    change: str  # new | missing | retyped
    declared: str | None = None
    actual: str | None = None

    def describe(self) -> str:
        if self.change == "new":
            return f"column `{self.column}` ({self.actual}) is new: it is not declared"
        if self.change == "missing":
            declared = f" (declared {self.declared})" if self.declared else ""
            return f"column `{self.column}`{declared} is missing"
        return f"column `{self.column}` is now {self.actual}, declared {self.declared}"


@dataclass
class SourceDrift:
    """What changed in one source table, or why it could not be read."""

    unique_id: str
    source: str  # <source>.<table>
    declared_in: str  # the YAML file, relative to the repository
    changes: list[ColumnChange] = field(default_factory=list)
    unreadable: str | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.changes or self.unreadable)

    def lines(self) -> list[str]:
        if self.unreadable:
            return [f"source {self.source} could not be read: {self.unreadable}"]
        return [f"source {self.source}: {c.describe()}" for c in self.changes]


def declared_columns(source: Mapping[str, Any]) -> dict[str, str | None]:
    """name → declared data_type (None when only the name is declared)."""
    return {
        name: (col.get("data_type") or None) for name, col in (source.get("columns") or {}).items()
    }


def _meta(source: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **(source.get("source_meta") or {}),
        **(source.get("meta") or {}),
        **((source.get("config") or {}).get("meta") or {}),
    }


def drift_policy(source: Mapping[str, Any]) -> str:
    policy = str(_meta(source).get(DRIFT_META) or "block")
    if policy not in POLICIES:
        raise ValueError(
            f"source {source['source_name']}.{source['name']}: meta.{DRIFT_META} is {policy!r}; "
            f"use one of {', '.join(POLICIES)}"
        )
    return policy


def compare(
    declared: Mapping[str, str | None], actual: list[tuple[str, str]], policy: str = "block"
) -> list[ColumnChange]:
    """The changes of ``actual`` against ``declared`` that ``policy`` does not accept."""
    have = dict(actual)
    changes = [
        ColumnChange(name, "missing", declared=declared[name])
        for name in declared
        if name not in have
    ]
    if policy != ALLOW_NEW_COLUMNS:
        changes += [
            ColumnChange(name, "new", actual=typ) for name, typ in actual if name not in declared
        ]
    for name, typ in actual:
        want = declared.get(name)
        if want and normalize_type(want) != normalize_type(typ):
            changes.append(ColumnChange(name, "retyped", declared=want, actual=typ))
    return changes


_ENV_VAR = re.compile(r"\{\{\s*env_var\(\s*'([A-Za-z_0-9]+)'(?:\s*,\s*'([^']*)')?\s*\)\s*\}\}")


def resolve_env_vars(text: str, values: Mapping[str, str]) -> str:
    """``{{ env_var('X', 'default') }}`` rendered from ``values`` (what dbt would render)."""
    return _ENV_VAR.sub(lambda m: values.get(m[1], m[2] or ""), text)


def _raw_location(project_dir: Path, source: Mapping[str, Any]) -> str | None:
    """The table's ``external_location`` as written in its YAML, so it is rendered with this
    run's environment (the manifest holds the paths of the environment it was parsed in)."""
    path = project_dir / source.get("original_file_path", "")
    if not path.is_file():
        return None
    doc = yaml_io.safe_load(path.read_text()) or {}
    for src in doc.get("sources") or []:
        if src.get("name") != source["source_name"]:
            continue
        src_meta = {**(src.get("meta") or {}), **((src.get("config") or {}).get("meta") or {})}
        for table in src.get("tables") or []:
            if table.get("name") == source["name"]:
                meta = {
                    **src_meta,
                    **(table.get("meta") or {}),
                    **((table.get("config") or {}).get("meta") or {}),
                }
                return meta.get("external_location")
    return None


def plugin_connection_url(project_dir: Path, alias: str, values: Mapping[str, str]) -> str | None:
    """The ``connection_url`` of the dbt-duckdb plugin ``alias`` in the project's profile,
    rendered with ``values``."""
    profiles = yaml_io.safe_load((profiles_dir(project_dir) / "profiles.yml").read_text()) or {}
    for profile in profiles.values():
        for output in (profile or {}).get("outputs", {}).values():
            for plugin in output.get("plugins") or []:
                url = (plugin.get("config") or {}).get("connection_url")
                if plugin.get("alias") == alias and url:
                    return resolve_env_vars(url, values)
    return None


@dataclass(frozen=True)
class SourceLocation:
    """Where an operational source table is: a DuckDB relation over files (its rendered
    ``external_location``) or a table of a SQLite database behind a ``meta.plugin``."""

    relation: str | None = None  # e.g. read_csv('/data/x/*.csv', ...)
    sqlite_path: str | None = None
    table: str = ""


def source_location(
    env: MeshEnvironment, project_dir: Path, source: Mapping[str, Any]
) -> SourceLocation | None:
    """The source's location rendered with this run's environment; None when the platform
    cannot tell (a database other than SQLite, or no location at all)."""
    values = {**env.tool_env()}
    meta = _meta(source)
    if meta.get("plugin"):
        url = plugin_connection_url(project_dir, meta["plugin"], values)
        if not url or not url.startswith("sqlite:///"):
            return None
        return SourceLocation(
            sqlite_path=url.removeprefix("sqlite:///"), table=meta.get("table") or source["name"]
        )
    location = _raw_location(project_dir, source) or meta.get("external_location")
    if not location:
        return None
    return SourceLocation(
        relation=resolve_env_vars(location, values).replace("{name}", source["name"])
    )


class UnreadableSource(Exception):
    """The source's columns could not be read (the message says why)."""


def actual_columns(
    env: MeshEnvironment, project_dir: Path, source: Mapping[str, Any]
) -> list[tuple[str, str]] | None:
    """(column, type) of the source as it is now; None when the platform cannot tell (a
    database other than SQLite, or no location at all)."""
    where = source_location(env, project_dir, source)
    if where is None:
        return None
    if where.sqlite_path is not None:
        return _sqlite_columns(where.sqlite_path, where.table)
    location = where.relation
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(f"describe select * from {location}").fetchall()  # noqa: S608
    except duckdb.Error as exc:
        raise UnreadableSource(str(exc).strip().splitlines()[0]) from None
    finally:
        con.close()
    return [(r[0], r[1]) for r in rows]


def _sqlite_columns(path: str, table: str) -> list[tuple[str, str]]:
    if not Path(path).is_file():
        raise UnreadableSource(f"database file {path} does not exist")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(f"pragma table_info({_sqlite_ident(table)})").fetchall()
    except sqlite3.Error as exc:
        raise UnreadableSource(str(exc)) from None
    finally:
        con.close()
    if not rows:
        raise UnreadableSource(f"table {table} does not exist in {path}")
    return [(r[1], r[2] or "") for r in rows]


def _sqlite_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_source(
    env: MeshEnvironment, project_dir: Path, unique_id: str, source: Mapping[str, Any]
) -> SourceDrift | None:
    """The drift of one operational source table; None when it declares no columns (or the
    platform cannot read its columns)."""
    if source_port_address(source):
        return None
    declared = declared_columns(source)
    if not declared:
        return None
    yml = Path(project_dir.name) / source.get("original_file_path", "")
    drift = SourceDrift(
        unique_id,
        f"{source['source_name']}.{source['name']}",
        str(Path(env.dbt_project_dir.name) / yml),
    )
    try:
        actual = actual_columns(env, project_dir, source)
    except UnreadableSource as exc:
        drift.unreadable = str(exc)
        return drift
    if actual is None:
        return None
    drift.changes = compare(declared, actual, drift_policy(source))
    return drift

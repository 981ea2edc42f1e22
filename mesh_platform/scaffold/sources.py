"""A new product's input: an operational source (read to learn its columns) or an upstream port."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_platform.core import yaml_io
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.sql import quote_ident
from mesh_platform.scaffold.plan import ScaffoldError

OPERATIONAL_KINDS = ("file_drop", "api", "event_stream", "database")
_ENV_DIR = "{{ env_var('MESH_OPERATIONAL_DIR', '../data/operational') }}"


@dataclass(frozen=True)
class OperationalSource:
    """An operational system's table: a file (pattern) under the operational data directory,
    or a table of a database connection declared in dbt_project/profiles.yml."""

    kind: str
    system: str
    table: str
    path: str | None = None
    connection: str | None = None

    def reader(self, root: str) -> str:
        """The DuckDB table function reading the files, rooted at ``root``."""
        path = f"{root}/{self.path}"
        suffix = Path(self.path or "").suffix.lower()
        if suffix in {".csv", ".tsv", ".txt"}:
            return f"read_csv('{path}', header = true)"
        if suffix == ".parquet":
            return f"read_parquet('{path}')"
        if suffix in {".jsonl", ".ndjson"} or self.kind == "event_stream":
            return f"read_json('{path}', format = 'newline_delimited')"
        return f"read_json('{path}', format = 'auto')"

    @property
    def location(self) -> str:
        return self.reader(_ENV_DIR)

    @property
    def described(self) -> str:
        what = {
            "file_drop": "files dropped at",
            "api": "API documents dumped at",
            "event_stream": "events landed at",
        }
        if self.kind == "database":
            return f"table {self.table} of the database connection {self.connection}"
        return f"{what[self.kind]} `{self.path}` (under the operational data directory)"


def default_system(path: str | None) -> str:
    """The operational system a file path belongs to by default: its first folder."""
    from mesh_platform.scaffold.columns import snake

    return snake(Path(path).parts[0]) if path else "source"


def default_table(path: str | None) -> str:
    """The source table a file path holds by default: the file's stem, else its folder."""
    from mesh_platform.scaffold.columns import snake

    path = path or ""
    stem = Path(path).name.split(".")[0].replace("*", "")
    parent = Path(path).parent.name
    return snake(stem or parent) if (stem or parent) else "records"


SOURCE_SPEC = "[SYSTEM.TABLE=]KIND:PATH, or [SYSTEM=]database:CONNECTION.TABLE"


def parse_source(spec: str) -> OperationalSource:
    """One ``--source``: ``[SYSTEM.TABLE=]KIND:PATH`` (files under the operational data
    directory; system and table default from the path) or
    ``[SYSTEM=]database:CONNECTION.TABLE`` (system defaults to the connection)."""
    names_part, _, rest = spec.partition("=") if "=" in spec.split(":", 1)[0] else ("", "", spec)
    kind, sep, location = rest.partition(":")
    if not sep or kind not in OPERATIONAL_KINDS or not location:
        raise ScaffoldError(
            f"invalid --source {spec!r}: write {SOURCE_SPEC}, KIND one of "
            f"{', '.join(OPERATIONAL_KINDS)} (e.g. --source file_drop:merch/orders/*.csv)"
        )
    system, _, table = names_part.partition(".")
    if kind == "database":
        connection, dot, db_table = location.partition(".")
        if not dot or not db_table or table:
            raise ScaffoldError(
                f"invalid --source {spec!r}: a database source is "
                "[SYSTEM=]database:CONNECTION.TABLE (the table keeps its name)"
            )
        return OperationalSource(kind, system or connection, db_table, None, connection)
    return OperationalSource(
        kind, system or default_system(location), table or default_table(location), location
    )


def validate_operational(env: MeshEnvironment, source: OperationalSource) -> None:
    if source.kind not in OPERATIONAL_KINDS:
        raise ScaffoldError(
            f"unknown source kind {source.kind!r}; use one of {', '.join(OPERATIONAL_KINDS)}"
        )
    if source.kind == "database":
        aliases = database_connections(env)
        if source.connection not in aliases:
            raise ScaffoldError(
                f"unknown database connection {source.connection!r}; connections declared in "
                f"dbt_project/profiles.yml: {', '.join(aliases) or 'none'} (give --connection)"
            )
        return
    if not source.path or source.path.startswith("/") or ".." in Path(source.path).parts:
        raise ScaffoldError(
            f"give --path relative to the operational data directory ({env.operational_dir}), "
            "e.g. --path merch/orders/*.csv"
        )
    if "'" in source.path or not any(env.operational_dir.glob(source.path)):
        raise ScaffoldError(
            f"no file matches --path {source.path!r} under {env.operational_dir}; drop a sample "
            "file there first (or run `mesh generate`), so the product's columns can be read"
        )


def database_connections(env: MeshEnvironment) -> dict[str, str]:
    """Plugin alias → SQLAlchemy URL, from dbt_project/profiles.yml (env vars resolved)."""
    profiles = yaml_io.safe_load((env.dbt_project_dir / "profiles.yml").read_text()) or {}
    found = {}
    for profile in profiles.values():
        for output in (profile or {}).get("outputs", {}).values():
            for plugin in output.get("plugins") or []:
                url = (plugin.get("config") or {}).get("connection_url")
                if plugin.get("alias") and url:
                    found[plugin["alias"]] = _resolve_env(url, env)
    return found


def _resolve_env(text: str, env: MeshEnvironment) -> str:
    values = env.tool_env()
    return re.sub(
        r"\{\{\s*env_var\('([A-Z_]+)'(?:,\s*'([^']*)')?\)\s*\}\}",
        lambda m: values.get(m[1], m[2] or ""),
        text,
    )


def describe_operational(
    env: MeshEnvironment, source: OperationalSource, keys: list[str]
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """(column, type) of the source as it is today, and null counts of candidate key columns."""
    if source.kind == "database":
        return _describe_database(env, source), {}
    import duckdb

    con = duckdb.connect()
    try:
        relation = source.reader(str(env.operational_dir))
        rows = con.execute(f"describe select * from {relation}").fetchall()  # noqa: S608
        columns = [(r[0], r[1]) for r in rows]
        present = [c for c, _ in columns if c in keys]
        nulls = {}
        if present:
            counts = ", ".join(f"count(*) - count({quote_ident(c)})" for c in present)
            values = con.execute(f"select {counts} from {relation}").fetchone()  # noqa: S608
            nulls = dict(zip(present, values, strict=True))
    except duckdb.Error as exc:
        raise ScaffoldError(
            f"cannot read {source.path} as a {source.kind} ({str(exc).splitlines()[0]}); "
            "check --path and the file format"
        ) from None
    finally:
        con.close()
    return columns, nulls


SAMPLE_ROWS = 200


def sample_operational(env: MeshEnvironment, source: OperationalSource) -> dict[str, list]:
    """A few of the source's values per column (the first rows), for classifying personal data
    by value as well as by name; none for a database connection (not opened to sample)."""
    if source.kind == "database":
        return {}
    import duckdb

    con = duckdb.connect()
    try:
        relation = source.reader(str(env.operational_dir))
        cursor = con.execute(f"select * from {relation} limit {SAMPLE_ROWS}")  # noqa: S608
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error:
        return {}  # describe_operational has said what is wrong with the source
    finally:
        con.close()
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _describe_database(env: MeshEnvironment, source: OperationalSource) -> list[tuple[str, str]]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_connections(env)[source.connection])
    try:
        inspector = sqlalchemy.inspect(engine)
        if source.table not in inspector.get_table_names():
            raise ScaffoldError(
                f"connection {source.connection} has no table {source.table!r}; tables: "
                f"{', '.join(sorted(inspector.get_table_names()))}"
            )
        return [(c["name"], _sql_type(c["type"])) for c in inspector.get_columns(source.table)]
    finally:
        engine.dispose()


def _sql_type(sa_type: Any) -> str:
    name = type(sa_type).__name__.lower()
    mapping = {
        "integer": "bigint",
        "biginteger": "bigint",
        "float": "double",
        "real": "double",
        "numeric": "double",
        "datetime": "timestamp",
        "text": "varchar",
        "string": "varchar",
    }
    return mapping.get(name, "varchar")


@dataclass(frozen=True)
class UpstreamPort:
    address: str
    version: int
    model: str
    node: Mapping[str, Any]
    contract: Mapping[str, Any] | None
    description: str

"""Observing a domain's operational sources: what is there now, cheaply.

An operational source is not built by the mesh, so Dagster cannot *materialize* it; it
*observes* it: files (how many, how many bytes, last modified) or a SQLite table (the
database file's last-modified time), and the row count where counting is cheap. The data
version changes when the source does, so Dagster shows the source as observed (not "never
materialized") and marks what was built from an older version of it.
"""

from __future__ import annotations

import glob
import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.source_schema import SourceLocation, source_location
from mesh_platform.core.sql import quote_ident

# Counting rows reads the files; above this many bytes the observation says files and bytes only.
ROW_COUNT_MAX_BYTES = 256 * 1024 * 1024
_FIRST_LITERAL = re.compile(r"'((?:[^']|'')*)'")


@dataclass
class SourceObservation:
    source: str  # source_name.table
    data_version: str
    last_modified: float | None = None  # POSIX seconds
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    problem: str | None = None  # why the source could not be observed (shown on the asset)
    where: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        import dagster as dg

        meta: dict[str, Any] = {"mesh/location": self.where} if self.where else {}
        if self.last_modified is not None:
            meta["mesh/last_modified"] = dg.MetadataValue.timestamp(self.last_modified)
        if self.rows is not None:
            meta["dagster/row_count"] = self.rows
        if self.files is not None:
            meta["mesh/files"] = self.files
        if self.bytes is not None:
            meta["mesh/bytes"] = self.bytes
        if self.problem:
            meta["mesh/problem"] = self.problem
        return meta


def observe_source(
    env: MeshEnvironment, project_dir: Path, source: dict[str, Any]
) -> SourceObservation:
    name = f"{source['source_name']}.{source['name']}"
    try:
        where = source_location(env, project_dir, source)
    except (OSError, ValueError) as exc:
        return _unobservable(name, f"its location could not be read: {exc}")
    if where is None:
        return _unobservable(name, "the platform cannot tell where it is (no external_location)")
    if where.sqlite_path is not None:
        return _observe_sqlite(name, where)
    return _observe_files(name, where.relation or "")


def _unobservable(name: str, problem: str) -> SourceObservation:
    return SourceObservation(name, data_version="unobservable", problem=problem)


def _version(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _observe_files(name: str, relation: str) -> SourceObservation:
    literal = _FIRST_LITERAL.search(relation)
    if literal is None:
        return _unobservable(name, f"no file path in its location {relation!r}")
    pattern = literal[1].replace("''", "'")
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not paths:
        return SourceObservation(
            name, _version(pattern, 0), files=0, bytes=0, rows=0, where=pattern,
            problem=f"no file matches {pattern}",
        )  # fmt: skip
    stats = [Path(p).stat() for p in paths]
    size = sum(s.st_size for s in stats)
    latest = max(s.st_mtime for s in stats)
    observation = SourceObservation(
        name,
        _version(pattern, len(paths), size, latest),
        last_modified=latest,
        files=len(paths),
        bytes=size,
        where=pattern,
    )
    if size <= ROW_COUNT_MAX_BYTES:
        observation.rows = _count_rows(relation)
    return observation


def _count_rows(relation: str) -> int | None:
    """Rows of the source as dbt reads it (the same relation), in a throwaway DuckDB."""
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(f"select count(*) from {relation}").fetchone()[0]  # noqa: S608
    except duckdb.Error:
        return None  # an unreadable file is the drift check's and the build's to report
    finally:
        con.close()


def _observe_sqlite(name: str, where: SourceLocation) -> SourceObservation:
    path = Path(where.sqlite_path or "")
    if not path.is_file():
        return _unobservable(name, f"database file {path} does not exist")
    modified = path.stat().st_mtime
    rows = None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        table = quote_ident(where.table)
        rows = con.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
    except sqlite3.Error as exc:
        return _unobservable(name, f"table {where.table} of {path}: {exc}")
    finally:
        con.close()
    return SourceObservation(
        name,
        _version(str(path), where.table, modified, rows),
        last_modified=modified,
        rows=rows,
        where=f"{path} (table {where.table})",
    )

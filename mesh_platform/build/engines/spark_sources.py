"""The dbt sources of a domain's models, registered in its Spark session.

The ``spark`` target renders ``source('s', 't')`` as ``<schema>.<identifier>`` (by default
``s.t``): before ``dbt build`` runs, each source the domain's models read becomes a table (or a
view over one) of that name in the domain's metastore, reading exactly what the DuckDB build
reads: the operational systems' files and the upstream ports' current snapshots.

How a source is read on Spark, first match wins:

1. ``meta.mesh_spark`` (on the source, on the table, or both: the table's keys win), for a
   reading that cannot be told from the DuckDB reader::

       mesh_spark:
         format: text | json | csv | parquet | sqlite
         path: <file, folder or glob>     # default: the path in `external_location`'s reader;
                                          # `{name}` is the table's name; relative to the project
         options: {multiLine: true}       # Spark data source options, as Spark spells them
         columns: {line: value}           # the columns the models read: name -> column read
                                          # (default: every column read, as named)
         hive_partitions: [date]          # a text column per `name=value` folder of the path
         filename: filename               # a column with the path of the row's file
         encoding: latin-1                # text only: each line's bytes decoded in this charset
         table: <table>                   # sqlite only (default: `meta.table`, else the name)

   ``text`` reads raw lines (Spark's line breaks: ``\\n``, ``\\r\\n`` and ``\\r``) as a
   column ``value``; ``sqlite`` is loaded by this module (sqlite3 → Parquet under the domain's
   Spark folder, no JDBC driver needed): column types follow the values SQLite holds
   (integer, real, text, blob; a column mixing them is text).
2. ``meta.external_location`` with a DuckDB reader, translated: ``read_parquet`` → Parquet
   (a port's pointer is resolved when the source is registered: the build reads the snapshot
   current then), ``read_csv`` → CSV (header, delimiter, quote and escape; columns stay text),
   ``read_json`` with ``format = 'newline_delimited'`` or ``'array'`` → JSON
   (``filename = true`` → a ``filename`` column).
3. ``meta.plugin`` naming a dbt-duckdb plugin (the mesh's ``sqlite_source``, ``sqlalchemy``)
   whose ``connection_url`` (in the profile) is ``sqlite:///<file>``: the table ``meta.table``
   (else the source table's name) of that database, loaded as in 1.

Anything else is refused with a :class:`SparkSourceError` naming the source and what to declare.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_platform.core.source_schema import plugin_connection_url
from mesh_platform.core.sql import quote_ident

META_KEY = "mesh_spark"
FORMATS = ("text", "json", "csv", "parquet", "sqlite")
SPEC_KEYS = {
    "format",
    "path",
    "options",
    "columns",
    "hive_partitions",
    "filename",
    "encoding",
    "table",
}
READER = re.compile(
    r"^\s*(read_csv|read_csv_auto|read_parquet|read_json|read_json_auto)\(\s*'([^']+)'\s*"
    r"(?:,(.*))?\)\s*$",
    re.DOTALL,
)
OPTION = re.compile(r"(\w+)\s*=\s*('(?:[^']|'')*'|[\w.]+)")
# DuckDB read_csv options → Spark CSV data source options
CSV_OPTIONS = {
    "header": "header",
    "delim": "sep",
    "sep": "sep",
    "quote": "quote",
    "escape": "escape",
}
CSV_IGNORED = {"all_varchar"}  # Spark reads CSV columns as text unless inferSchema is set
# DuckDB read_json `format` → Spark's multiLine option
JSON_FORMATS = {"newline_delimited": "false", "array": "true"}
JSON_GUESSED = {"auto", "unstructured"}
# DuckDB's spellings of a charset → Java's
CHARSETS = {
    "latin-1": "ISO-8859-1",
    "latin1": "ISO-8859-1",
    "iso-8859-1": "ISO-8859-1",
    "utf-8": "UTF-8",
    "utf8": "UTF-8",
    "utf-16": "UTF-16",
    "ascii": "US-ASCII",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# a local file's URI as Spark reports it (file:/x or file:///x) → the path
_FILE_URI = r"^file:(//(?=/))?"
SQLITE_BATCH_ROWS = 50_000


class SparkSourceError(ValueError):
    """A source cannot be registered in Spark; the message names it and says what to do."""


@dataclass(frozen=True)
class SourceReading:
    """How one dbt source is read on Spark."""

    name: str  # <source>.<table>, as its YAML names it
    schema: str
    identifier: str
    format: str
    path: str
    options: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    hive_partitions: tuple[str, ...] = ()
    filename: str | None = None
    encoding: str | None = None
    table: str | None = None

    @property
    def relation(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.identifier)}"

    @property
    def files_relation(self) -> str:
        """The table of the files as read, when a view shapes it into the source."""
        return f"{_ident(self.schema)}.{_ident(self.identifier + '__files')}"

    @property
    def is_view(self) -> bool:
        return bool(self.columns or self.hive_partitions or self.filename or self.encoding)


def source_meta(source: Mapping[str, Any]) -> dict[str, Any]:
    """The source's and the table's ``meta`` merged (the table's keys win; ``mesh_spark`` is
    merged key by key)."""
    outer = source.get("source_meta") or {}
    inner = source.get("meta") or {}
    meta = {**outer, **inner}
    specs = [m.get(META_KEY) for m in (outer, inner) if m.get(META_KEY) is not None]
    if specs:
        merged: dict[str, Any] = {}
        for spec in specs:
            if not isinstance(spec, Mapping):
                raise SparkSourceError(
                    f"source {_name(source)}: `meta.{META_KEY}` must be a mapping "
                    f"(format, path, options, ...), not {spec!r}"
                )
            merged.update(spec)
        meta[META_KEY] = merged
    return meta


def source_reading(
    source: Mapping[str, Any],
    project_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> SourceReading:
    """How ``source`` (a manifest source, as a dict) is read on Spark; see the module doc."""
    name = _name(source)
    meta = source_meta(source)
    environ = os.environ if environ is None else environ
    location = meta.get("external_location")
    if META_KEY in meta:
        return _declared(source, meta, project_dir)
    if location:
        return _translated(source, str(location), project_dir)
    if meta.get("plugin"):
        url = None
        if project_dir is not None:
            url = plugin_connection_url(project_dir, str(meta["plugin"]), environ)
        if url and url.startswith("sqlite:///"):
            path = _path(url.removeprefix("sqlite:///"), source, project_dir)
            table = str(meta.get("table") or source["name"])
            return _reading(source, "sqlite", path, table=table)
        raise SparkSourceError(
            f"source {name} is read through the dbt-duckdb plugin {meta['plugin']!r}, "
            f"{'whose connection_url is ' + repr(url) if url else 'which has no connection_url'}"
            f"; only SQLite databases are loaded for Spark: declare "
            f"`meta.{META_KEY}` (format, path, ...) on the source to say how Spark reads it"
        )
    raise SparkSourceError(
        f"source {name} has no external_location and no `meta.{META_KEY}`: declare "
        f"`meta.{META_KEY}` (format: text|json|csv|parquet|sqlite, path, options) on the "
        "source so Spark can read it"
    )


def _declared(
    source: Mapping[str, Any], meta: Mapping[str, Any], project_dir: Path | None
) -> SourceReading:
    name = _name(source)
    spec = meta[META_KEY]
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise SparkSourceError(
            f"source {name}: unknown `meta.{META_KEY}` keys {unknown}; known: {sorted(SPEC_KEYS)}"
        )
    fmt = str(spec.get("format") or "").lower()
    if fmt not in FORMATS:
        raise SparkSourceError(
            f"source {name}: `meta.{META_KEY}.format` is {spec.get('format')!r}; "
            f"it must be one of {', '.join(FORMATS)}"
        )
    path = spec.get("path")
    if not path:
        match = READER.match(str(meta.get("external_location") or ""))
        if not match:
            raise SparkSourceError(
                f"source {name}: `meta.{META_KEY}` has no path and no DuckDB reader in "
                "external_location to take it from: add `path`"
            )
        path = match.group(2)
    options = spec.get("options") or {}
    columns = spec.get("columns") or {}
    partitions = spec.get("hive_partitions") or []
    if not isinstance(options, Mapping) or not isinstance(columns, Mapping):
        raise SparkSourceError(f"source {name}: `options` and `columns` must be mappings")
    if isinstance(partitions, str) or not isinstance(partitions, Iterable):
        raise SparkSourceError(f"source {name}: `hive_partitions` must be a list of names")
    encoding = spec.get("encoding")
    if encoding and fmt != "text":
        raise SparkSourceError(
            f"source {name}: `encoding` is for format text; give {fmt} its charset as the "
            "Spark option `encoding` under `options`"
        )
    if fmt == "sqlite" and (columns or partitions or spec.get("filename") or options):
        raise SparkSourceError(
            f"source {name}: a sqlite source is its table as it is: no options, columns, "
            "hive_partitions or filename"
        )
    names = [*columns, *partitions, *([spec["filename"]] if spec.get("filename") else [])]
    for column in [*names, *columns.values()]:
        if not _NAME.match(str(column)):
            raise SparkSourceError(f"source {name}: {column!r} is not a plain column name")
    return _reading(
        source,
        fmt,
        _path(str(path), source, project_dir),
        options={str(k): _option(v) for k, v in options.items()},
        columns={str(k): str(v) for k, v in columns.items()},
        hive_partitions=tuple(str(p) for p in partitions),
        filename=str(spec["filename"]) if spec.get("filename") else None,
        encoding=_charset(name, str(encoding)) if encoding else None,
        table=str(spec.get("table") or meta.get("table") or source["name"])
        if fmt == "sqlite"
        else None,
    )


def _translated(source: Mapping[str, Any], location: str, project_dir: Path | None):
    name = _name(source)
    match = READER.match(location)
    if not match:
        raise SparkSourceError(
            f"source {name}: cannot translate {location.strip()!r} to Spark (readers translated: "
            f"read_csv, read_parquet, read_json); declare `meta.{META_KEY}` to say how Spark "
            "reads it"
        )
    reader, path, raw_options = match.groups()
    reader = reader.removesuffix("_auto")
    options: dict[str, str] = {}
    filename = None
    for key, value in OPTION.findall(raw_options or ""):
        key = key.lower()
        text = value[1:-1].replace("''", "'") if value.startswith("'") else value.lower()
        if reader == "read_csv" and key in CSV_OPTIONS:
            options[CSV_OPTIONS[key]] = text
        elif reader == "read_csv" and key in CSV_IGNORED:
            continue
        elif reader == "read_json" and key == "format" and text in JSON_FORMATS:
            options["multiLine"] = JSON_FORMATS[text]
        elif reader == "read_json" and key == "format" and text in JSON_GUESSED:
            continue  # DuckDB guesses; Spark cannot (refused below, naming multiLine)
        elif reader == "read_json" and key == "records" and text in {"true", "auto"}:
            continue  # an object per row, its keys the columns: what Spark reads
        elif reader == "read_json" and key == "filename" and text == "true":
            filename = "filename"
        else:
            raise SparkSourceError(
                f"source {name}: {reader} option {key} = {value} has no Spark twin here; "
                f"declare `meta.{META_KEY}` (format, options, ...) to say how Spark reads it"
            )
    fmt = {"read_csv": "csv", "read_parquet": "parquet", "read_json": "json"}[reader]
    if fmt == "json" and "multiLine" not in options:
        raise SparkSourceError(
            f"source {name}: read_json without format = 'newline_delimited' or 'array' leaves "
            "DuckDB to guess; Spark must be told: declare `meta."
            f"{META_KEY}: {{format: json, options: {{multiLine: true}}}}` for one document per "
            "file (false for one per line)"
        )
    return _reading(
        source, fmt, _path(path, source, project_dir), options=options, filename=filename
    )


def _reading(source: Mapping[str, Any], fmt: str, path: str, **kwargs) -> SourceReading:
    return SourceReading(
        name=_name(source),
        schema=str(source["schema"]),
        identifier=str(source.get("identifier") or source["name"]),
        format=fmt,
        path=path,
        **kwargs,
    )


def _path(path: str, source: Mapping[str, Any], project_dir: Path | None) -> str:
    """The path with ``{name}`` filled in, relative to the project, symlinks resolved (a port's
    pointer names its current snapshot: that is what the build reads)."""
    path = path.replace("{name}", str(source["name"]))
    if project_dir is not None and not os.path.isabs(path):
        path = str(project_dir / path)
    return os.path.realpath(path)


def _option(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _charset(name: str, encoding: str) -> str:
    charset = CHARSETS.get(encoding.lower())
    if not charset:
        raise SparkSourceError(
            f"source {name}: encoding {encoding!r} unknown; known: {', '.join(sorted(CHARSETS))}"
        )
    return charset


def _name(source: Mapping[str, Any]) -> str:
    return f"{source['source_name']}.{source['name']}"


def reading_statements(reading: SourceReading, path: str | None = None) -> list[str]:
    """Spark SQL registering the source: a table over its files, and a view shaping them when
    the source renames, adds or decodes columns. ``path`` overrides where the files are (a
    SQLite table's Parquet copy)."""
    fmt = "parquet" if reading.format == "sqlite" else reading.format
    options = {**reading.options, "path": path or reading.path}
    rendered = ", ".join(f"`{k}` '{_quote(v)}'" for k, v in options.items())
    table = reading.files_relation if reading.is_view else reading.relation
    statements = [
        f"create database if not exists {_ident(reading.schema)}",
        f"drop table if exists {table}",
        f"create table {table} using {fmt} options ({rendered})",
    ]
    if reading.is_view:
        statements.append(
            f"create or replace view {reading.relation} as select {_projection(reading)} "
            f"from {table}"
        )
    return statements


def _projection(reading: SourceReading) -> str:
    def value(column: str) -> str:
        if reading.encoding and column == "value":
            return f"decode(cast(`value` as binary), '{reading.encoding}')"
        return _ident(column)

    parts = [f"{value(read)} as {_ident(col)}" for col, read in reading.columns.items()]
    if not reading.columns:
        parts = [f"{value('value')} as `value`"] if reading.encoding else ["*"]
    for partition in reading.hive_partitions:
        pattern = f"/{partition}=([^/]*)/"
        parts.append(f"regexp_extract(_metadata.file_path, '{pattern}', 1) as {_ident(partition)}")
    if reading.filename:
        parts.append(
            f"regexp_replace(_metadata.file_path, '{_FILE_URI}', '') as {_ident(reading.filename)}"
        )
    return ", ".join(parts)


def source_table_sql(
    source: Mapping[str, Any],
    project_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Spark SQL registering one dbt source (for a SQLite source, over the Parquet copy
    :func:`register_sources` writes first)."""
    return reading_statements(source_reading(source, project_dir, environ))


def domain_sources(manifest, domain: str | None = None) -> list[dict[str, Any]]:
    """The sources a domain's models read (its operational systems and upstream ports); the
    manifest is the domain's own project's."""
    used = set()
    for node in manifest.nodes.values():
        if node.resource_type == "model":
            used |= {d for d in node.depends_on.nodes if d.startswith("source.")}
    return [manifest.sources[uid].to_dict() for uid in sorted(used)]


def register_sources(
    spark,
    sources: Iterable[Mapping[str, Any]],
    copies_dir: Path,
    project_dir: Path | None = None,
) -> list[SourceReading]:
    """Register every source in ``spark``'s metastore; SQLite tables are copied to Parquet
    under ``copies_dir`` first. Returns the readings, in order."""
    readings = [source_reading(source, project_dir) for source in sources]
    for reading in readings:
        path = None
        if not any(c in reading.path for c in "*?[{") and not os.path.exists(reading.path):
            raise SparkSourceError(
                f"source {reading.name}: nothing at {reading.path} (an upstream port not "
                "published yet, or operational data not generated?)"
            )
        if reading.format == "sqlite":
            path = str(sqlite_to_parquet(reading, copies_dir / reading.schema / reading.identifier))
        _drop_other_kind(spark, reading)
        for statement in reading_statements(reading, path):
            spark.sql(statement)
    return readings


def _drop_other_kind(spark, reading: SourceReading) -> None:
    """A source that was a table and is now a view (or the other way) is dropped first: Spark's
    ``drop table`` refuses a view, ``create or replace view`` a table."""
    if not spark.catalog.tableExists(f"{reading.schema}.{reading.identifier}"):
        return
    kind = spark.catalog.getTable(f"{reading.schema}.{reading.identifier}").tableType
    if (kind == "VIEW") != reading.is_view:
        spark.sql(f"drop {'view' if kind == 'VIEW' else 'table'} {reading.relation}")


def sqlite_to_parquet(reading: SourceReading, folder: Path) -> Path:
    """Copy one SQLite table to ``folder`` as Parquet (replacing what was there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = reading.table or reading.identifier
    if not Path(reading.path).is_file():
        raise SparkSourceError(f"source {reading.name}: database file {reading.path} not found")
    con = sqlite3.connect(f"file:{reading.path}?mode=ro", uri=True)
    try:
        info = con.execute(f"pragma table_info({quote_ident(table)})").fetchall()
        if not info:
            raise SparkSourceError(
                f"source {reading.name}: table {table} does not exist in {reading.path}"
            )
        columns = [row[1] for row in info]
        kinds = {c: _sqlite_kinds(con, table, c) for c in columns}
        schema = pa.schema([(c, _arrow_type(kinds[c])) for c in columns])
        select = ", ".join(
            f"cast({quote_ident(c)} as text)"
            if schema.field(c).type == pa.string()
            else quote_ident(c)
            for c in columns
        )
        cursor = con.execute(f"select {select} from {quote_ident(table)}")  # noqa: S608
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        target = folder / "part-00000.parquet"
        with pq.ParquetWriter(target, schema) as writer:
            while rows := cursor.fetchmany(SQLITE_BATCH_ROWS):
                arrays = [pa.array([r[i] for r in rows], f.type) for i, f in enumerate(schema)]
                writer.write_batch(pa.record_batch(arrays, schema=schema))
    except sqlite3.Error as exc:
        raise SparkSourceError(f"source {reading.name}: cannot read {table}: {exc}") from None
    finally:
        con.close()
    return folder


def _sqlite_kinds(con: sqlite3.Connection, table: str, column: str) -> set[str]:
    col = quote_ident(column)
    rows = con.execute(
        f"select distinct typeof({col}) from {quote_ident(table)}"  # noqa: S608
    ).fetchall()
    return {r[0] for r in rows} - {"null"}


def _arrow_type(kinds: set[str]):
    import pyarrow as pa

    if kinds == {"integer"}:
        return pa.int64()
    if kinds and kinds <= {"integer", "real"}:
        return pa.float64()
    if kinds == {"blob"}:
        return pa.binary()
    return pa.string()  # text, a mix with text, or no value at all


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")

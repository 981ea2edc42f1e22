"""Publishing a port: write-audit-publish in Iceberg's own terms, one commit per publish.

The caller has verified the contract on the relation; :func:`publish_snapshot` writes it as new
Parquet data files (DuckDB's ``COPY``, straight into the table's data folder on a local store,
staged locally and uploaded on S3) and makes **one** Iceberg commit — an overwrite snapshot that
removes the files it replaces and adds the new ones. A reader sees the old or the new snapshot,
never half of one; a publisher killed before the commit leaves only files no snapshot names,
which the next publish of the port removes (``retention.py``).

A port of a daily-partitioned product that names its ``partitioning.column`` is a table
partitioned by that column (identity): a run for some days writes only those days' files and its
commit replaces only those days' files, so publishing a day costs O(day), not O(history); every
other day's files stay, shared by every snapshot that has them. A column the relation adds
evolves the table's schema and rewrites every day, so all files of a snapshot have the same
columns; a changed column type is refused (a breaking change needs a new major version).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesh_platform.core.failpoints import failpoint
from mesh_platform.core.sql import quote_ident, quote_literal
from mesh_platform.ports.checksums import (
    CHECKSUM_VERSION,
    checksum_source,
    combine_checksums,
    content_checksum,
    normalised_row_hash,
)
from mesh_platform.ports.location import (
    PortStore,
    arrow_filesystem,
    fs_path,
    load_catalog,
    port_store,
)
from mesh_platform.ports.retention import RETAINED_SNAPSHOTS, apply_retention
from mesh_platform.ports.store import (
    SUMMARY,
    DayPartitions,
    PublishedPort,
    day_of,
    fsync,
    load_table,
    port_dir,
    snapshot_files,
    snapshot_port,
    table_name,
)

PUBLISH_LOCK = ".publish.lock"
TABLE_PROPERTIES = {
    # every commit writes a metadata file: keep the last few, like the snapshots
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": str(RETAINED_SNAPSHOTS + 5),
    "write.parquet.compression-codec": "zstd",
    "write.parquet.compression-level": "1",
}
# zstd level 1 instead of DuckDB's default 3: writing a port's files is 16 % faster for 1 % more
# bytes (50 M play events in day files; bench/results/publish-cost.md)
PARQUET = "format parquet, compression zstd, compression_level 1"


@contextlib.contextmanager
def _publish_lock(directory: Path) -> Iterator[None]:
    """One publisher per port version on this machine (across machines, Iceberg's optimistic
    commit refuses the second of two concurrent commits)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / PUBLISH_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish_snapshot(
    connection: Any,
    relation: str,
    ports_dir: Path | PortStore,
    domain: str,
    port: str,
    version: int,
    run_id: str | None = None,
    order_by: str | None = None,
    partitions: DayPartitions | None = None,
) -> PublishedPort:
    """Write ``relation`` as the port version's new snapshot in one Iceberg commit.

    With ``partitions``, only the days asked for are written and replaced (see the module
    docstring)."""
    failpoint("publish.start")
    store = port_store(ports_dir)
    local_dir = port_dir(store, domain, port, version)
    with _publish_lock(local_dir):
        if partitions is not None:
            _require_date_column(connection, relation, partitions.column)
        commit_id = uuid.uuid4().hex
        location = store.table_location(domain, port, version)
        # local: straight into the table's data folder; S3: staged here, then uploaded
        staging = (
            store.local_path(f"{location}/data/{commit_id}")
            if store.is_local
            else local_dir / ".staging" / commit_id
        )
        staging.mkdir(parents=True, exist_ok=True)
        try:
            table, schema_changed = _table_for(
                store, connection, relation, (domain, port, version), staging, partitions
            )
            previous = table.current_snapshot()
            previous_port = (
                snapshot_port(f"{domain}.{port}", version, table, previous) if previous else None
            )
            written = _write(
                connection,
                relation,
                staging,
                order_by,
                partitions,
                None if schema_changed else previous_port,
            )
            failpoint("publish.temp_written")
            new_files = _place(store, staging, location, commit_id)
            failpoint("publish.files_placed")
            published = _commit(
                store, table, previous, written, new_files, run_id, partitions, domain, port
            )
        finally:
            if not store.is_local:
                shutil.rmtree(staging, ignore_errors=True)
        failpoint("publish.committed")
        # the lock is this machine's: on S3 another machine may be writing files not yet
        # committed, so there unnamed files go only after the grace period
        apply_retention(store, domain, port, version, locked=store.is_local)
        failpoint("publish.retention_done")
    return published


def _require_date_column(connection: Any, relation: str, column: str) -> None:
    types = dict(
        (r[0], r[1]) for r in connection.execute(f"describe select * from {relation}").fetchall()
    )
    if types.get(column) != "DATE":
        found = f"is {types[column]}" if column in types else "does not exist"
        raise ValueError(
            f"{relation}: column {column!r} (the product's partitioning.column) {found}; "
            "a port published per day needs a DATE column. Cast it in the model, or name the "
            "right column in the descriptor."
        )


def _file_schema(connection: Any, relation: str, staging: Path) -> Any:
    """The Arrow schema of the Parquet files DuckDB writes for ``relation`` (not DuckDB's Arrow
    export: e.g. a HUGEINT is written to Parquet as a DOUBLE)."""
    import pyarrow.parquet as pq

    probe = staging / ".schema.parquet"
    connection.execute(
        f"copy (select * from {relation} limit 0) to {quote_literal(str(probe))} (format parquet)"
    )
    try:
        return pq.read_schema(probe)
    finally:
        probe.unlink(missing_ok=True)


def _table_for(
    store: PortStore,
    connection: Any,
    relation: str,
    port_version: tuple[str, str, int],
    staging: Path,
    partitions: DayPartitions | None,
) -> tuple[Any, bool]:
    """The port version's table, created on first publish, and whether its schema changed now:
    a column the relation adds is added to the table (Iceberg keeps the schema's history); a
    changed column type is refused."""
    from pyiceberg.exceptions import TableAlreadyExistsError
    from pyiceberg.table import TableProperties

    domain, port, version = port_version
    schema = _file_schema(connection, relation, staging)
    catalog = load_catalog(store)
    table = load_table(store, domain, port, version)
    if table is None:
        _create_namespace(catalog, domain)
        try:
            table = catalog.create_table(
                (domain, table_name(port, version)),
                schema=schema,
                location=store.table_location(domain, port, version),
                properties=TABLE_PROPERTIES,
            )
        except TableAlreadyExistsError:  # another publisher created it first
            table = load_table(store, domain, port, version)
    before = table.schema()
    try:
        with table.update_schema() as update:
            update.union_by_name(schema)
    except Exception as exc:  # pyiceberg's ValidationError/ValueError: say what to do
        raise ValueError(
            f"port {domain}.{port} v{version}: the relation's columns do not fit the published "
            f"table's schema ({exc}). A changed column type or a dropped column is a breaking "
            f"change: publish it as a new major version (v{version + 1})."
        ) from exc
    table = table.refresh()
    mapping_key = TableProperties.DEFAULT_NAME_MAPPING
    if table.schema() != before or mapping_key not in table.properties:
        # DuckDB's files carry no Iceberg field ids: columns are matched by name
        with table.transaction() as tx:
            tx.set_properties(**{mapping_key: table.schema().name_mapping.model_dump_json()})
        table = table.refresh()
    _align_partition_spec(table, partitions)
    table = table.refresh()
    # a column the relation no longer has stays in the table (null from now on): its files
    # differ from the carried days' too
    dropped = {f.name for f in table.schema().fields} != set(schema.names)
    return table, table.schema() != before or dropped


def _create_namespace(catalog: Any, domain: str) -> None:
    """The domain's namespace, unless it exists. Two publishers of one domain's first ports may
    both find it missing and both insert it: the loser's insert fails on the catalog's unique
    key (PostgreSQL's UniqueViolation, not pyiceberg's NamespaceAlreadyExistsError), and the
    namespace exists — which is all this publish needs."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    try:
        catalog.create_namespace(domain)
    except NamespaceAlreadyExistsError:
        return
    except Exception:
        if not catalog.namespace_exists(domain):
            raise


@dataclass
class _Written:
    files: list[Path]
    checksum: str
    by_day: dict[str, str] | None = None
    days: list[str] | None = None  # the days this publish wrote (partitioned ports)
    replaces_all: bool = True  # the commit removes every file of the previous snapshot
    days_replaced: list[str] | None = None  # otherwise: the days whose files it replaces


def _write(
    connection: Any,
    relation: str,
    staging: Path,
    order_by: str | None,
    spec: DayPartitions | None,
    previous: PublishedPort | None,
) -> _Written:
    if spec is None:
        target = staging / "part-0.parquet"
        order = f" order by {order_by}" if order_by else ""
        connection.execute(
            f"copy (select * from {relation}{order}) to {quote_literal(str(target))} ({PARQUET})"
        )
        fsync(target)
        return _Written([target], content_checksum(connection, target, relation))
    carried = _carried_days(previous, spec)
    if carried is not None and 2 * len(spec.days or ()) > len(carried):
        carried = None  # most days change (a backfill): one pass over the table is cheaper
    asked = sorted({d.isoformat() for d in spec.days}) if spec.days else None
    column = quote_ident(spec.column)
    where = ""
    if carried is not None and asked is not None:
        where = f" where {column} in ({', '.join(quote_literal(d) + '::date' for d in asked)})"
    _write_days(connection, relation, where, spec.column, staging)
    files = sorted(p for p in staging.rglob("*.parquet") if not p.name.startswith("."))
    checksums: dict[str, str] = {}
    if files:
        listed = ", ".join(quote_literal(str(f)) for f in files)
        source = checksum_source(connection, f"read_parquet([{listed}])", relation, where)
        row_hash = normalised_row_hash(connection, source)
        for value, rows, total in connection.execute(
            f"select {column}, count(*), coalesce(sum({row_hash}::hugeint), 0) "
            f"from {source} group by 1"
        ).fetchall():
            checksums[day_of(value)] = f"{int(rows)}:{int(total) % (1 << 128):032x}"
    for file in files:
        fsync(file)
    if carried is None:  # every day written: the commit replaces the whole table
        days = sorted(checksums) if asked is None else [d for d in asked if d in checksums]
        by_day = checksums
        replaces = True
    else:
        days = [d for d in (asked or []) if d in checksums]
        by_day = {**{d: c for d, c in carried.items() if d not in (asked or [])}, **checksums}
        replaces = False
    checksum = combine_checksums(list(by_day.values()))
    return _Written(files, checksum, by_day, days, replaces, None if replaces else asked)


# A table stored in day order is written one day at a time: each day's COPY reads only that
# day's row groups (DuckDB skips the others by their min/max), which took 18 s instead of 28 s
# (31 s instead of 55 s of CPU) for 50 M rows over 90 days. DuckDB's PARTITION_BY hashes every
# row to a per-day writer instead. A table whose row groups each span many days would be read
# once per day: it keeps PARTITION_BY.
ROWS_PER_GROUP = 122_880  # DuckDB's row group size
MAX_DAYS_PER_ROW_GROUP = 2.0  # on average: row groups read per day, relative to one full scan


def _write_days(connection: Any, relation: str, where: str, day: str, staging: Path) -> None:
    """The rows of ``relation`` (``where``: the days asked for) as one Parquet file per day,
    in Hive folders ``<day>=YYYY-MM-DD/`` under ``staging``."""
    column = quote_ident(day)
    days = _days_in_order(connection, relation, where, column)
    if days is None:
        connection.execute(
            f"copy (select * from {relation}{where}) to {quote_literal(str(staging))} ({PARQUET}, "
            f"partition_by ({column}), write_partition_columns true, overwrite_or_ignore true)"
        )
        return
    for value in days:
        folder = staging / f"{day}={value.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        connection.execute(
            f"copy (select * from {relation} where {column} = "
            f"{quote_literal(value.isoformat())}::date) to "
            f"{quote_literal(str(folder / 'data_0.parquet'))} ({PARQUET})"
        )


def _days_in_order(connection: Any, relation: str, where: str, column: str) -> list[Any] | None:
    """The days of ``relation`` to write (``where``: those asked for), if it is a table stored
    in day order without null days, so that one COPY per day reads little: the row groups
    (of the whole table, as DuckDB prunes them) span at most ``MAX_DAYS_PER_ROW_GROUP`` days
    on average. None otherwise (a view, scattered days)."""
    import duckdb

    try:
        spans = connection.execute(
            f"select avg(span), sum(nulls) from (select date_diff('day', min({column}), "
            f"max({column})) + 1 as span, count(*) filter (where {column} is null) as nulls "
            f"from {relation} group by rowid // {ROWS_PER_GROUP})"
        ).fetchone()
    except duckdb.Error:  # no rowid: a view or another engine's relation
        return None
    average, nulls = spans
    if average is None or nulls or average > MAX_DAYS_PER_ROW_GROUP:
        return None
    return [
        row[0]
        for row in connection.execute(
            f"select distinct {column} from {relation}{where} order by 1"
        ).fetchall()
    ]


def _carried_days(previous: PublishedPort | None, spec: DayPartitions) -> dict[str, str] | None:
    """The current snapshot's days, if they can stay as they are: a per-day snapshot of the
    same column and checksum kind (``previous`` is None when the relation's columns changed:
    every day is written again, so all files of a snapshot have the same columns)."""
    if previous is None or not spec.days:
        return None
    if previous.partition_column != spec.column or not isinstance(previous.partitions, dict):
        return None
    if previous.checksum_version != CHECKSUM_VERSION:
        return None
    return previous.partitions


def _place(store: PortStore, staging: Path, location: str, commit_id: str) -> list[str]:
    """The URIs of the new data files: where they are (local) or where they were uploaded."""
    files = sorted(p for p in staging.rglob("*.parquet") if not p.name.startswith("."))
    if store.is_local:
        fsync(staging)  # the folder: its new entries
        return [str(p) for p in files]
    filesystem = arrow_filesystem(store)
    uris = []
    for file in files:
        uri = f"{location}/data/{commit_id}/{file.relative_to(staging).as_posix()}"
        with open(file, "rb") as source, filesystem.open_output_stream(fs_path(uri)) as sink:
            shutil.copyfileobj(source, sink, length=8 << 20)
        uris.append(uri)
    return uris


def _commit(
    store: PortStore,
    table: Any,
    previous: Any,
    written: _Written,
    new_files: list[str],
    run_id: str | None,
    spec: DayPartitions | None,
    domain: str,
    port: str,
) -> PublishedPort:
    """One Iceberg overwrite snapshot: the replaced files out, the new ones in."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    table = table.refresh()
    now_current = table.current_snapshot()
    if (
        previous is not None
        and now_current is not None
        and (now_current.snapshot_id != previous.snapshot_id)
    ):
        raise RuntimeError(
            f"port {domain}.{port}: another publisher committed while this one wrote; "
            "nothing of this publish became visible — run it again"
        )
    existing = snapshot_files(table, table.current_snapshot())
    replaced_days = written.days_replaced
    if written.replaces_all or replaced_days is None:
        removed = existing
    else:
        spec_has_day = bool(table.spec().fields)
        removed = [
            f for f in existing if not spec_has_day or day_of(f.partition[0]) in replaced_days
        ]
    remaining = len(existing) - len(removed)
    added = [parquet_file_to_data_file(table.io, table.metadata, uri) for uri in new_files]
    if not added and not remaining:  # no rows at all: one empty file keeps the schema readable
        added = [_empty_file(store, table)]
    now = datetime.now(UTC)
    properties = {
        f"{SUMMARY}rows": written.checksum.split(":")[0],
        f"{SUMMARY}checksum": written.checksum,
        f"{SUMMARY}checksum-version": str(CHECKSUM_VERSION),
        f"{SUMMARY}published-at": now.isoformat(),
        f"{SUMMARY}run-id": run_id or "",
    }
    if spec is not None:
        properties[f"{SUMMARY}partition-column"] = spec.column
        properties[f"{SUMMARY}partitions"] = json.dumps(written.by_day, sort_keys=True)
        properties[f"{SUMMARY}days-written"] = json.dumps(written.days)
    with (
        table.transaction() as tx,
        tx.update_snapshot(snapshot_properties=properties).overwrite() as overwrite,
    ):
        for data_file in removed:
            overwrite.delete_data_file(data_file)
        for data_file in added:
            overwrite.append_data_file(data_file)
    table = table.refresh()
    published = snapshot_port(
        f"{domain}.{port}", _version_of(table), table, table.current_snapshot()
    )
    if published is None:  # the commit carried the summary: only a bug gets here
        raise RuntimeError(f"port {domain}.{port}: the commit's snapshot has no mesh summary")
    return published


def _version_of(table: Any) -> int:
    return int(table.name()[-1].rpartition("_v")[2])


def _align_partition_spec(table: Any, spec: DayPartitions | None) -> None:
    """Partition the table by the day column when the port is published per day (identity),
    and not otherwise; a change of spec applies to the files written from now on."""
    wanted = [spec.column] if spec else []
    have = {table.schema().find_column_name(f.source_id): f.name for f in table.spec().fields}
    if list(have) == wanted:
        return
    with table.update_spec() as update:
        for partition_field in have.values():
            update.remove_field(partition_field)
        for column in wanted:
            update.add_identity(column)


def _empty_file(store: PortStore, table: Any) -> Any:
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import parquet_file_to_data_file, schema_to_pyarrow

    uri = f"{table.metadata.location}/data/empty-{uuid.uuid4().hex}.parquet"
    arrow_schema = schema_to_pyarrow(table.schema(), include_field_ids=False)
    filesystem = arrow_filesystem(store)
    if store.is_local:
        store.local_path(uri).parent.mkdir(parents=True, exist_ok=True)
    with filesystem.open_output_stream(fs_path(uri)) as sink:
        pq.write_table(arrow_schema.empty_table(), sink)
    return parquet_file_to_data_file(table.io, table.metadata, uri)

"""Output ports as Apache Iceberg tables: one table per port and major version.

Publishing (:func:`publish_snapshot`) is write-audit-publish in Iceberg's own terms: the caller
has verified the contract on the relation; the relation is written as new Parquet data files
(DuckDB's ``COPY``, straight into the table's data folder on a local store, staged locally and
uploaded on S3), and **one** Iceberg commit — an overwrite snapshot that removes the files it
replaces and adds the new ones — makes them current. A reader sees the old or the new snapshot,
never half of one; a publisher killed before the commit leaves only files no snapshot names,
which the next publish of the port removes.

A port of a daily-partitioned product that names its ``partitioning.column`` is an Iceberg
table partitioned by that column (identity): a run for some days writes only those days' files
and its commit replaces only those days' files, so publishing a day costs O(day), not
O(history); every other day's files stay where they are, shared by every snapshot that has them.

What the home-made format kept in side files now lives with the snapshot, in its summary
properties (``mesh.*``): rows, the content checksum, the run, each day's checksum and which
days the publish wrote. The schema is the table's (Iceberg keeps its history).

Readers pin a snapshot with a *lease* (:func:`lease_current`): a small object beside the
table naming the snapshot and its files, until the reader releases it or it expires
(:data:`LEASE_SECONDS`). Retention keeps the newest :data:`RETAINED_SNAPSHOTS` snapshots, the
current one, any snapshot superseded less than the grace period ago (so a reader that has
just resolved the current snapshot has time to lease it), and every leased one; it expires the
rest from the table and then removes the files no remaining snapshot and no lease names.

Each snapshot carries an order-independent content checksum (:func:`content_checksum`): the row
count and the 128-bit sum of DuckDB's ``hash()`` of every row's *normalised* values — columns in
name order, floating-point values rounded to single precision — so two snapshots with the same
rows in any order, column order or engine (DuckDB or Spark) have the same checksum.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from mesh_platform.core.failpoints import failpoint
from mesh_platform.core.sql import quote_ident, quote_literal
from mesh_platform.ports.location import (
    PortStore,
    arrow_filesystem,
    fs_path,
    load_catalog,
    port_store,
)

RETAINED_SNAPSHOTS = 5
# 2: normalised values (see the module docstring); per-day checksums of another kind are not
# combined with these: a snapshot of another kind has all its days written again
CHECKSUM_VERSION = 2
FLOAT_TYPES = {"DOUBLE"}  # FLOAT (REAL) is single precision already
PUBLISH_LOCK = ".publish.lock"
GRACE_ENV = "MESH_PORTS_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 300
LEASE_ENV = "MESH_PORTS_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 6 * 3600
NULL_DAY = "null"  # the day of rows whose day column is null
SUMMARY = "mesh."  # prefix of the platform's snapshot summary properties
TABLE_PROPERTIES = {
    # every commit writes a metadata file: keep the last few, like the snapshots
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": str(RETAINED_SNAPSHOTS + 5),
    "write.parquet.compression-codec": "zstd",
}


@dataclass(frozen=True)
class DayPartitions:
    """Publish a port per day of ``column``: only ``days`` (None: every day) are written; the
    other days of the current snapshot stay as they are."""

    column: str
    days: tuple[date, ...] | None = None


@dataclass(frozen=True)
class PublishedPort:
    address: str
    version: int
    snapshot_id: str
    path: str  # the Iceberg table's location
    rows: int
    published_at: str
    run_id: str | None = None
    checksum: str | None = None
    # partitioned ports: the day column, each day's ``<rows>:<hex>`` checksum, and which days
    # this publish wrote
    partition_column: str | None = None
    partitions: dict[str, str] | None = None
    days_written: list[str] | None = None
    checksum_version: int | None = None
    table: str | None = None  # ``<domain>.<port>_v<major>`` in the catalog
    files: list[str] = field(default_factory=list)  # the snapshot's data files (URIs)

    @property
    def rows_written(self) -> int:
        """Rows of the days this publish wrote (all rows, unless it published some days)."""
        if self.partitions is None or self.days_written is None:
            return self.rows
        return sum(int(self.partitions[d].split(":")[0]) for d in self.days_written)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload.pop("files")  # a reader asks the table; a record need not carry them
        return payload

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> PublishedPort:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})


def port_dir(ports_dir: Path | PortStore, domain: str, port: str, version: int) -> Path:
    """The port version's local folder under the ports directory (rejects, the publish lock)."""
    anchor = ports_dir.anchor if isinstance(ports_dir, PortStore) else Path(ports_dir)
    return anchor / domain / port / f"v{version}"


def table_name(port: str, version: int) -> str:
    return f"{port}_v{version}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    _fsync(directory)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    _fsync(tmp)
    os.replace(tmp, path)


# --- checksums --------------------------------------------------------------------------------


def normalised_row_hash(connection: Any, source: str) -> str:
    """SQL of one row's hash over ``source``'s columns in name order, floating-point values
    rounded to single precision: engines sum and divide floats in different orders, which
    changes the last bits of a double (a difference of 1e-13 crosses a single-precision rounding
    boundary about once in 10^6 values, a 12-digit decimal one once in 10); a cast is also a
    third of the cost of formatting."""
    columns = sorted(
        (r[0], str(r[1]).upper())
        for r in connection.execute(f"describe select * from {source}").fetchall()
    )
    fields_sql = ", ".join(
        f"{quote_ident(name)} := "
        + (f"{quote_ident(name)}::float" if kind in FLOAT_TYPES else quote_ident(name))
        for name, kind in columns
    )
    return f"hash(struct_pack({fields_sql}))"


def content_checksum(connection: Any, parquet: Path | list[Path]) -> str:
    """``<rows>:<hex>`` — the row count and the sum (mod 2^128) of the rows' normalised hashes.

    Independent of row order, column order, file layout (row groups, compression) and of the
    engine that computed the values; cheap (one scan, no sort), and it changes when any value
    of any row does.
    """
    paths = parquet if isinstance(parquet, list) else [parquet]
    source = f"read_parquet([{', '.join(quote_literal(str(p)) for p in paths)}])"
    rows, total = connection.execute(
        f"select count(*), coalesce(sum({normalised_row_hash(connection, source)}::hugeint), 0) "
        f"from {source}"
    ).fetchone()
    return f"{int(rows)}:{int(total) % (1 << 128):032x}"


def _combine_checksums(checksums: Iterator[str] | list[str]) -> str:
    """The checksum of the union of disjoint row sets: rows and hash sums add up."""
    rows = total = 0
    for checksum in checksums:
        n, hexsum = checksum.split(":")
        rows += int(n)
        total += int(hexsum, 16)
    return f"{rows}:{total % (1 << 128):032x}"


# --- tables -----------------------------------------------------------------------------------


def _load_table(store: PortStore, domain: str, port: str, version: int) -> Any | None:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return load_catalog(store).load_table((domain, table_name(port, version)))
    except (NoSuchTableError, NoSuchNamespaceError):
        return None


def _day_of(value: Any) -> str:
    """A file's identity-partition value (days since 1970 for a DATE) as ``YYYY-MM-DD``."""
    if value is None:
        return NULL_DAY
    if isinstance(value, int):
        return (date(1970, 1, 1) + timedelta(days=value)).isoformat()
    return str(value)[:10]


_MANIFEST_CACHE: dict[str, list[Any]] = {}
_MANIFEST_CACHE_SIZE = 4096


def _snapshot_files(table: Any, snapshot: Any) -> list[Any]:
    """The live data files (pyiceberg ``DataFile``) of one snapshot.

    A manifest file never changes once written (Iceberg writes new ones), so its entries are
    cached by path: retention and readers look at the same few manifests again and again, and
    on object storage each read is a request."""
    if snapshot is None:
        return []
    found = []
    for manifest in snapshot.manifests(table.io):
        entries = _MANIFEST_CACHE.get(manifest.manifest_path)
        if entries is None:
            entries = [
                e.data_file for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
            ]
            if len(_MANIFEST_CACHE) >= _MANIFEST_CACHE_SIZE:
                _MANIFEST_CACHE.clear()
            _MANIFEST_CACHE[manifest.manifest_path] = entries
        found.extend(entries)
    return found


def _published(address: str, version: int, table: Any, snapshot: Any) -> PublishedPort | None:
    """The platform's view of one snapshot (None: a snapshot the platform did not publish)."""
    props = snapshot.summary.additional_properties if snapshot.summary else {}
    if f"{SUMMARY}rows" not in props:
        return None

    def loaded(key: str) -> Any:
        raw = props.get(SUMMARY + key)
        return json.loads(raw) if raw else None

    return PublishedPort(
        address=address,
        version=version,
        snapshot_id=str(snapshot.snapshot_id),
        path=table.metadata.location,
        rows=int(props[f"{SUMMARY}rows"]),
        published_at=props.get(f"{SUMMARY}published-at")
        or datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC).isoformat(),
        run_id=props.get(f"{SUMMARY}run-id") or None,
        checksum=props.get(f"{SUMMARY}checksum"),
        partition_column=props.get(f"{SUMMARY}partition-column") or None,
        partitions=loaded("partitions"),
        days_written=loaded("days-written"),
        checksum_version=int(props.get(f"{SUMMARY}checksum-version") or 0) or None,
        table=".".join(table.name()),
        files=sorted(f.file_path for f in _snapshot_files(table, snapshot)),
    )


def current_snapshot(
    ports_dir: Path | PortStore,
    domain: str,
    port: str,
    version: int,
    snapshot_id: str | int | None = None,
    as_of: datetime | None = None,
) -> PublishedPort | None:
    """The port version's current snapshot — or the one ``snapshot_id`` names, or the one that
    was current at ``as_of`` — or None if there is none (never published, expired)."""
    store = port_store(ports_dir)
    table = _load_table(store, domain, port, version)
    if table is None:
        return None
    if snapshot_id is not None:
        snapshot = table.snapshot_by_id(int(snapshot_id))
    elif as_of is not None:
        snapshot = table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000))
    else:
        snapshot = table.current_snapshot()
    if snapshot is None:
        return None
    return _published(f"{domain}.{port}", version, table, snapshot)


def list_published(ports_dir: Path | PortStore) -> list[PublishedPort]:
    """Every port version that has a current snapshot, sorted by address then version."""
    store = port_store(ports_dir)
    catalog_file = store.anchor / "catalog.db"
    if store.catalog_uri.startswith("sqlite") and not catalog_file.exists():
        return []  # nothing was ever published here: do not create a catalog to say so
    catalog = load_catalog(store)
    found = []
    for namespace in catalog.list_namespaces():
        domain = namespace[0]
        for identifier in catalog.list_tables(namespace):
            port, _, major = identifier[-1].rpartition("_v")
            if not port or not major.isdigit():
                continue
            published = current_snapshot(store, domain, port, int(major))
            if published:
                found.append(published)
    return sorted(found, key=lambda p: (p.address, p.version))


def snapshot_history(
    ports_dir: Path | PortStore, domain: str, port: str, version: int
) -> list[PublishedPort]:
    """The port version's snapshots still kept (oldest first): time travel's choices."""
    store = port_store(ports_dir)
    table = _load_table(store, domain, port, version)
    if table is None:
        return []
    found = (
        _published(f"{domain}.{port}", version, table, s)
        for s in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    )
    return [p for p in found if p is not None]


# --- publishing -------------------------------------------------------------------------------


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


def _grace() -> timedelta:
    return timedelta(seconds=float(os.environ.get(GRACE_ENV) or DEFAULT_GRACE_SECONDS))


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
                _published(f"{domain}.{port}", version, table, previous) if previous else None
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
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, TableAlreadyExistsError
    from pyiceberg.table import TableProperties

    domain, port, version = port_version
    schema = _file_schema(connection, relation, staging)
    catalog = load_catalog(store)
    table = _load_table(store, domain, port, version)
    if table is None:
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(domain)
        try:
            table = catalog.create_table(
                (domain, table_name(port, version)),
                schema=schema,
                location=store.table_location(domain, port, version),
                properties=TABLE_PROPERTIES,
            )
        except TableAlreadyExistsError:  # another publisher created it first
            table = _load_table(store, domain, port, version)
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
            f"copy (select * from {relation}{order}) to {quote_literal(str(target))} "
            "(format parquet, compression zstd)"
        )
        _fsync(target)
        return _Written([target], content_checksum(connection, target))
    carried = _carried_days(previous, spec)
    if carried is not None and 2 * len(spec.days or ()) > len(carried):
        carried = None  # most days change (a backfill): one pass over the table is cheaper
    asked = sorted({d.isoformat() for d in spec.days}) if spec.days else None
    column = quote_ident(spec.column)
    where = ""
    if carried is not None and asked is not None:
        where = f" where {column} in ({', '.join(quote_literal(d) + '::date' for d in asked)})"
    connection.execute(
        f"copy (select * from {relation}{where}) to {quote_literal(str(staging))} (format "
        f"parquet, compression zstd, partition_by ({column}), write_partition_columns true, "
        "overwrite_or_ignore true)"
    )
    files = sorted(p for p in staging.rglob("*.parquet") if not p.name.startswith("."))
    checksums: dict[str, str] = {}
    if files:
        listed = ", ".join(quote_literal(str(f)) for f in files)
        source = f"read_parquet([{listed}])"
        row_hash = normalised_row_hash(connection, source)
        for value, rows, total in connection.execute(
            f"select {column}, count(*), coalesce(sum({row_hash}::hugeint), 0) "
            f"from {source} group by 1"
        ).fetchall():
            checksums[_day_of(value)] = f"{int(rows)}:{int(total) % (1 << 128):032x}"
    for file in files:
        _fsync(file)
    if carried is None:  # every day written: the commit replaces the whole table
        days = sorted(checksums) if asked is None else [d for d in asked if d in checksums]
        by_day = checksums
        replaces = True
    else:
        days = [d for d in (asked or []) if d in checksums]
        by_day = {**{d: c for d, c in carried.items() if d not in (asked or [])}, **checksums}
        replaces = False
    checksum = _combine_checksums(list(by_day.values()))
    return _Written(files, checksum, by_day, days, replaces, None if replaces else asked)


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
        _fsync_dir(staging)
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
    existing = _snapshot_files(table, table.current_snapshot())
    replaced_days = written.days_replaced
    if written.replaces_all or replaced_days is None:
        removed = existing
    else:
        spec_has_day = bool(table.spec().fields)
        removed = [
            f for f in existing if not spec_has_day or _day_of(f.partition[0]) in replaced_days
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
    published = _published(f"{domain}.{port}", _version_of(table), table, table.current_snapshot())
    assert published is not None
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


# --- leases and retention ---------------------------------------------------------------------


def _lease_dir(location: str) -> str:
    return f"{location}/mesh/leases"


class SnapshotLease:
    """A reader's hold on one snapshot: retention keeps its files while the lease lives.

    Released by :meth:`release`, when the object is garbage-collected, or when it expires
    (``MESH_PORTS_LEASE_SECONDS``, default 6 hours: a reader killed without releasing it holds
    the files that long, never longer)."""

    def __init__(self, store: PortStore, uri: str, published: PublishedPort) -> None:
        self._store = store
        self._uri: str | None = uri
        self.published = published

    @property
    def files(self) -> list[str]:
        return self.published.files

    def release(self) -> None:
        uri, self._uri = self._uri, None
        if uri is not None:
            with contextlib.suppress(OSError):
                arrow_filesystem(self._store).delete_file(fs_path(uri))

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.release()


def _write_lease(store: PortStore, published: PublishedPort) -> str:
    seconds = float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE_SECONDS)
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    uri = f"{_lease_dir(published.path)}/{published.snapshot_id}-{uuid.uuid4().hex}.json"
    payload = {
        "snapshot_id": published.snapshot_id,
        "files": published.files,
        "expires_at": expires.isoformat(),
        "holder": f"{socket.gethostname()}:{os.getpid()}",
    }
    filesystem = arrow_filesystem(store)
    if store.is_local:
        path = store.local_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, payload)
    else:
        with filesystem.open_output_stream(fs_path(uri)) as sink:
            sink.write(json.dumps(payload).encode())
    return uri


def _live_leases(store: PortStore, location: str) -> list[dict[str, Any]]:
    """Every unexpired lease on the table at ``location``; expired ones are removed."""
    from pyarrow import fs

    filesystem = arrow_filesystem(store)
    selector = fs.FileSelector(fs_path(_lease_dir(location)), allow_not_found=True)
    live = []
    now = datetime.now(UTC)
    for info in filesystem.get_file_info(selector):
        if info.type != fs.FileType.File or not info.base_name.endswith(".json"):
            continue
        try:
            with filesystem.open_input_stream(info.path) as stream:
                lease = json.loads(stream.read())
        except (OSError, ValueError):
            continue
        if datetime.fromisoformat(lease["expires_at"]) < now:
            with contextlib.suppress(OSError):
                filesystem.delete_file(info.path)
            continue
        live.append(lease)
    return live


def lease_published(
    published: PublishedPort, ports_dir: Path | PortStore | None = None
) -> SnapshotLease | None:
    """Lease the snapshot ``published`` names; None if it is gone (expired)."""
    from mesh_platform.core.environment import get_environment

    store = port_store(ports_dir if ports_dir is not None else get_environment().ports_dir)
    domain, port = published.address.split(".", 1)
    uri = _write_lease(store, published)
    lease = SnapshotLease(store, uri, published)
    # retention may have expired it between our resolving and our lease: check again
    table = _load_table(store, domain, port, published.version)
    if table is None or table.snapshot_by_id(int(published.snapshot_id)) is None:
        lease.release()
        return None
    return lease


def lease_current(
    ports_dir: Path | PortStore, domain: str, port: str, version: int, attempts: int = 5
) -> SnapshotLease | None:
    """Lease the port version's current snapshot (None if it was never published)."""
    store = port_store(ports_dir)
    for _ in range(attempts):
        published = current_snapshot(store, domain, port, version)
        if published is None:
            return None
        lease = lease_published(published, store)
        if lease is not None:
            return lease
    return None


def apply_retention(
    ports_dir: Path | PortStore, domain: str, port: str, version: int, locked: bool = False
) -> list[str]:
    """Expire the snapshots retention no longer keeps, then remove the files nothing names.

    ``locked``: the caller holds the port's publish lock on a local store, so a file no
    snapshot names is a dead publisher's leftover and goes at once; otherwise only files older
    than the grace period go (a live publisher elsewhere may be writing them). Returns the
    removed files."""
    store = port_store(ports_dir)
    table = _load_table(store, domain, port, version)
    if table is None:
        return []
    now = datetime.now(UTC)
    grace = _grace()
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    current = table.current_snapshot()
    keep = {s.snapshot_id for s in snapshots[-RETAINED_SNAPSHOTS:]}
    if current is not None:
        keep.add(current.snapshot_id)
    for older, newer in zip(snapshots, snapshots[1:], strict=False):
        superseded = datetime.fromtimestamp(newer.timestamp_ms / 1000, UTC)
        if now - superseded < grace:
            keep.add(older.snapshot_id)
    location = table.metadata.location
    keep |= {int(lease["snapshot_id"]) for lease in _live_leases(store, location)}
    expire = [s.snapshot_id for s in snapshots if s.snapshot_id not in keep]
    if expire:
        table.maintenance.expire_snapshots().by_ids(expire).commit()
        table = table.refresh()
    failpoint("publish.expired")
    named: set[str] = set()
    for snapshot in table.metadata.snapshots:
        named.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            named.add(manifest.manifest_path)
        named.update(f.file_path for f in _snapshot_files(table, snapshot))
    # leases are read again after the expiry: a reader that leased meanwhile keeps its files
    for lease in _live_leases(store, location):
        named.update(lease["files"])
    return _remove_unnamed(store, location, named, grace=timedelta(0) if locked else grace)


def _remove_unnamed(
    store: PortStore, location: str, named: set[str], grace: timedelta
) -> list[str]:
    from pyarrow import fs

    filesystem = arrow_filesystem(store)
    prefix = "s3://" if location.startswith("s3://") else ""
    named_paths = {fs_path(n) for n in named}
    removed = []
    cutoff = datetime.now(UTC) - grace
    for folder, suffixes in (("data", (".parquet",)), ("metadata", (".avro",))):
        selector = fs.FileSelector(
            fs_path(f"{location}/{folder}"), recursive=True, allow_not_found=True
        )
        for info in filesystem.get_file_info(selector):
            if info.type != fs.FileType.File or not info.base_name.endswith(suffixes):
                continue
            if info.path in named_paths:
                continue
            mtime = info.mtime
            if mtime is not None and mtime.replace(tzinfo=mtime.tzinfo or UTC) > cutoff:
                continue
            with contextlib.suppress(OSError):
                filesystem.delete_file(info.path)
                removed.append(prefix + info.path)
    if store.is_local:  # empty per-commit folders of removed files
        for folder in sorted(store.local_path(f"{location}/data").rglob("*"), reverse=True):
            if folder.is_dir():
                with contextlib.suppress(OSError):
                    folder.rmdir()
    return removed


# --- records beside the table -----------------------------------------------------------------


def record_json(
    ports_dir: Path | PortStore,
    domain: str,
    port: str,
    version: int,
    name: str,
    payload: dict[str, Any],
) -> str:
    """Write a small JSON record beside the port version's table (atomically: a reader sees
    the previous record or the new one). Returns where."""
    store = port_store(ports_dir)
    uri = f"{store.table_location(domain, port, version)}/mesh/{name}"
    if store.is_local:
        path = store.local_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, payload)
    else:  # an S3 PUT replaces the object atomically
        with arrow_filesystem(store).open_output_stream(fs_path(uri)) as sink:
            sink.write(json.dumps(payload, indent=2, sort_keys=True).encode())
    failpoint(f"publish.{Path(name).stem}_recorded")
    return uri


def read_record(
    ports_dir: Path | PortStore, domain: str, port: str, version: int, name: str
) -> dict[str, Any] | None:
    """A record :func:`record_json` wrote; None if there is none or it is unreadable."""
    store = port_store(ports_dir)
    uri = f"{store.table_location(domain, port, version)}/mesh/{name}"
    try:
        with arrow_filesystem(store).open_input_stream(fs_path(uri)) as stream:
            return json.loads(stream.read())
    except (OSError, ValueError):
        return None

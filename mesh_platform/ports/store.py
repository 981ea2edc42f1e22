"""Output ports as Apache Iceberg tables: one table per port and major version — the read side.

``<domain>.<port>_v<major>`` in the catalog (``location.py``), at
``<MESH_PORTS_URI>/<domain>/<port>/v<major>``. What the home-made format kept in side files
lives with each snapshot, in its summary properties (``mesh.*``): rows, the content checksum
(``checksums.py``), the run, each day's checksum and which days the publish wrote; the schema is
the table's (Iceberg keeps its history). :func:`current_snapshot` reads the current snapshot —
or one by id, or the one current at a moment (time travel) — as a :class:`PublishedPort` that
names its data files; :func:`snapshot_history` lists the kept ones.

Writing is ``publish.py`` (one Iceberg commit per publish); leases and retention by snapshot
expiry are ``retention.py``; the small JSON records beside a table are here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from mesh_platform.core.failpoints import failpoint
from mesh_platform.ports.location import (
    PortStore,
    arrow_filesystem,
    fs_path,
    load_catalog,
    port_store,
)

NULL_DAY = "null"  # the day of rows whose day column is null
SUMMARY = "mesh."  # prefix of the platform's snapshot summary properties


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


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    fsync(tmp)
    os.replace(tmp, path)


# --- tables -----------------------------------------------------------------------------------


def load_table(store: PortStore, domain: str, port: str, version: int) -> Any | None:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return load_catalog(store).load_table((domain, table_name(port, version)))
    except (NoSuchTableError, NoSuchNamespaceError):
        return None


def day_of(value: Any) -> str:
    """A file's identity-partition value (days since 1970 for a DATE) as ``YYYY-MM-DD``."""
    if value is None:
        return NULL_DAY
    if isinstance(value, int):
        return (date(1970, 1, 1) + timedelta(days=value)).isoformat()
    return str(value)[:10]


_MANIFEST_CACHE: dict[str, list[Any]] = {}
_MANIFEST_CACHE_SIZE = 4096


def snapshot_files(table: Any, snapshot: Any) -> list[Any]:
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


def snapshot_port(address: str, version: int, table: Any, snapshot: Any) -> PublishedPort | None:
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
        files=sorted(f.file_path for f in snapshot_files(table, snapshot)),
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
    table = load_table(store, domain, port, version)
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
    return snapshot_port(f"{domain}.{port}", version, table, snapshot)


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
    table = load_table(store, domain, port, version)
    if table is None:
        return []
    found = (
        snapshot_port(f"{domain}.{port}", version, table, s)
        for s in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    )
    return [p for p in found if p is not None]


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
    uri = write_object(store, f"{store.table_location(domain, port, version)}/mesh/{name}", payload)
    failpoint(f"publish.{Path(name).stem}_recorded")
    return uri


def read_record(
    ports_dir: Path | PortStore, domain: str, port: str, version: int, name: str
) -> dict[str, Any] | None:
    """A record :func:`record_json` wrote; None if there is none or it is unreadable."""
    store = port_store(ports_dir)
    return read_object(store, f"{store.table_location(domain, port, version)}/mesh/{name}")


def write_object(store: PortStore, uri: str, payload: dict[str, Any]) -> str:
    """Write a small JSON object at ``uri`` atomically — a rename on disk, one PUT on S3 — so
    a reader sees the previous object or the new one, never half of one. Returns ``uri``."""
    if store.is_local:
        path = store.local_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, payload)
    else:
        with arrow_filesystem(store).open_output_stream(fs_path(uri)) as sink:
            sink.write(json.dumps(payload, indent=2, sort_keys=True).encode())
    return uri


def read_object(store: PortStore, uri: str) -> dict[str, Any] | None:
    """The JSON object at ``uri``; None if there is none or it is unreadable. A local one is
    read as a file (the catalog reads one per port: no pyarrow filesystem needed for it)."""
    try:
        if store.is_local:
            return json.loads(store.local_path(uri).read_bytes())
        with arrow_filesystem(store).open_input_stream(fs_path(uri)) as stream:
            return json.loads(stream.read())
    except (OSError, ValueError):
        return None

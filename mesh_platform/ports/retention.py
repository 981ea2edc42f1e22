"""Readers' leases and retention by snapshot expiry, on a local path or S3.

Readers pin a snapshot with a *lease* (:func:`lease_current`): a small object beside the table
(``<table>/mesh/leases/``) naming the snapshot and its files, until the reader releases it or
it expires (``MESH_PORTS_LEASE_SECONDS``, default 6 hours). Leases are objects, not ``flock``
locks, because object storage has no locks and readers and publishers may be on different
machines.

Retention (:func:`apply_retention`, after every publish) keeps the newest
:data:`RETAINED_SNAPSHOTS` snapshots, the current one, any snapshot superseded less than the
grace period ago (``MESH_PORTS_GRACE_SECONDS``, default 300: a reader that has just resolved the
current snapshot has that long to lease it), and every leased one. It expires the rest from the
table (one Iceberg commit), reads the leases again, and only then removes the files no
remaining snapshot and no lease names — so a reader holding an old snapshot during expiry still
reads it completely.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mesh_platform.core.failpoints import failpoint
from mesh_platform.ports.location import PortStore, arrow_filesystem, fs_path, port_store
from mesh_platform.ports.store import (
    PublishedPort,
    current_snapshot,
    load_table,
    read_object,
    snapshot_files,
    write_object,
)

RETAINED_SNAPSHOTS = 5
GRACE_ENV = "MESH_PORTS_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 300
LEASE_ENV = "MESH_PORTS_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 6 * 3600


def grace_period() -> timedelta:
    return timedelta(seconds=float(os.environ.get(GRACE_ENV) or DEFAULT_GRACE_SECONDS))


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
    return write_object(store, uri, payload)


def _live_leases(store: PortStore, location: str) -> list[dict[str, Any]]:
    """Every unexpired lease on the table at ``location``; expired ones are removed."""
    from pyarrow import fs

    filesystem = arrow_filesystem(store)
    selector = fs.FileSelector(fs_path(_lease_dir(location)), allow_not_found=True)
    live = []
    now = datetime.now(UTC)
    prefix = "s3://" if location.startswith("s3://") else ""
    for info in filesystem.get_file_info(selector):
        if info.type != fs.FileType.File or not info.base_name.endswith(".json"):
            continue
        lease = read_object(store, prefix + info.path)
        if lease is None:
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
    table = load_table(store, domain, port, published.version)
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
    table = load_table(store, domain, port, version)
    if table is None:
        return []
    now = datetime.now(UTC)
    grace = grace_period()
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
        named.update(f.file_path for f in snapshot_files(table, snapshot))
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

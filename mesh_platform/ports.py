"""Output ports: immutable Parquet snapshots behind an atomically switched pointer.

Layout of one port, ``<ports_dir>/<domain>/<port>/v<major>/``::

    snapshots/<snapshot_id>.parquet   immutable data, written once under a temporary name
    snapshots/<snapshot_id>.json      its metadata (rows, contract result, run)
    current.parquet                   symlink to the current snapshot: the pointer

The pointer is switched with one ``rename`` of a symlink, which POSIX makes atomic, so a
reader sees the old or the new snapshot, never half of one. A reader holding a snapshot file
open keeps reading it even after retention unlinks it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RETAINED_SNAPSHOTS = 5
POINTER = "current.parquet"


@dataclass(frozen=True)
class PublishedPort:
    address: str
    version: int
    snapshot_id: str
    path: str
    rows: int
    published_at: str
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def port_dir(ports_dir: Path, domain: str, port: str, version: int) -> Path:
    return ports_dir / domain / port / f"v{version}"


def pointer_path(ports_dir: Path, domain: str, port: str, version: int) -> Path:
    return port_dir(ports_dir, domain, port, version) / POINTER


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    _fsync(tmp)
    os.replace(tmp, path)


def publish_snapshot(
    connection: Any,
    relation: str,
    ports_dir: Path,
    domain: str,
    port: str,
    version: int,
    run_id: str | None = None,
    order_by: str | None = None,
) -> PublishedPort:
    """Copy ``relation`` to a new immutable snapshot, then switch the port's pointer to it."""
    directory = port_dir(ports_dir, domain, port, version)
    snapshots = directory / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    snapshot_id = now.strftime("%Y%m%dT%H%M%S%fZ") + (f"-{run_id[:8]}" if run_id else "")
    final = snapshots / f"{snapshot_id}.parquet"
    tmp = snapshots / f".{snapshot_id}.parquet.tmp"
    order = f" order by {order_by}" if order_by else ""
    connection.execute(
        f"copy (select * from {relation}{order}) to '{tmp}' (format parquet, compression zstd)"
    )
    _fsync(tmp)
    os.replace(tmp, final)
    rows = connection.execute(f"select count(*) from read_parquet('{final}')").fetchone()[0]
    published = PublishedPort(
        address=f"{domain}.{port}",
        version=version,
        snapshot_id=snapshot_id,
        path=str(final),
        rows=int(rows),
        published_at=now.isoformat(),
        run_id=run_id,
    )
    _write_json_atomic(final.with_suffix(".json"), published.to_json())
    _switch_pointer(directory, final)
    _apply_retention(snapshots, keep=RETAINED_SNAPSHOTS)
    return published


def _switch_pointer(directory: Path, target: Path) -> None:
    link_tmp = directory / f".{POINTER}.{os.getpid()}.{time.monotonic_ns()}"
    os.symlink(os.path.relpath(target, directory), link_tmp)
    os.replace(link_tmp, directory / POINTER)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _apply_retention(snapshots: Path, keep: int) -> None:
    """Drop the oldest snapshots beyond ``keep``; never the one the pointer names."""
    current = (snapshots.parent / POINTER).resolve()
    files = sorted(snapshots.glob("*.parquet"))
    for old in files[:-keep] if len(files) > keep else []:
        if old.resolve() == current:
            continue
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)


def record_json(
    ports_dir: Path, domain: str, port: str, version: int, name: str, payload: dict[str, Any]
) -> Path:
    """Write a small JSON record beside a port version's snapshots (atomically)."""
    directory = port_dir(ports_dir, domain, port, version)
    directory.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(directory / name, payload)
    return directory / name


def current_snapshot(ports_dir: Path, domain: str, port: str, version: int) -> PublishedPort | None:
    """The published snapshot the pointer names now, or None if the port was never published."""
    pointer = pointer_path(ports_dir, domain, port, version)
    if not pointer.is_symlink():
        return None
    meta = pointer.resolve().with_suffix(".json")
    return PublishedPort(**json.loads(meta.read_text()))


def list_published(ports_dir: Path) -> list[PublishedPort]:
    """Every port version that has a current snapshot, sorted by address then version."""
    found = []
    for pointer in sorted(ports_dir.glob(f"*/*/v*/{POINTER}")):
        version_dir = pointer.parent
        domain, port = version_dir.parent.parent.name, version_dir.parent.name
        snap = current_snapshot(ports_dir, domain, port, int(version_dir.name[1:]))
        if snap:
            found.append(snap)
    return found

"""``mesh ports migrate``: a data dir's ports of the old snapshot format become Iceberg tables.

The old format (before ports were Iceberg tables) kept each port version at
``<ports>/<domain>/<port>/v<N>/`` as ``snapshots/<id>.parquet`` (a file, or a folder of one file
per day) with ``snapshots/<id>.json`` beside it, and ``current.parquet``, a symlink naming the
current snapshot; ``schema.json`` and ``governance.json`` beside them.

What is migrated: each port version's **current** snapshot, published as the first snapshot of
its Iceberg table — per day when it was per day, with the same run id — and checked: the new
snapshot's content checksum must equal the old one's (a normalised checksum; an older kind is
recomputed from the old files). The schema and governance records move beside the table. Older
snapshots are not migrated (time travel starts at the migration); the old files move to
``<port>/v<N>/legacy/`` and nothing is deleted — remove those folders once you have checked
the result. Addresses and versions are unchanged, so consumers change nothing. A port version
whose table already has a snapshot is left as it is (running the command twice is safe).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mesh_platform.core.sql import quote_literal
from mesh_platform.ports.checksums import CHECKSUM_VERSION, content_checksum
from mesh_platform.ports.location import PortStore, port_store
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.records import GOVERNANCE_FILE, SCHEMA_FILE
from mesh_platform.ports.store import DayPartitions, current_snapshot, read_record, record_json

OLD_POINTER = "current.parquet"
LEGACY = "legacy"


@dataclass(frozen=True)
class Migrated:
    address: str
    version: int
    status: str  # migrated | already-migrated | failed
    rows: int = 0
    detail: str = ""


def old_ports(ports_dir: Path) -> list[tuple[str, str, int, Path]]:
    """(domain, port, major, pointer) of every port version in the old format."""
    found = []
    for pointer in sorted(ports_dir.glob(f"*/*/v*/{OLD_POINTER}")):
        version_dir = pointer.parent
        if not pointer.is_symlink() or not version_dir.name[1:].isdigit():
            continue
        found.append(
            (version_dir.parent.parent.name, version_dir.parent.name, int(version_dir.name[1:]),
             pointer)
        )  # fmt: skip
    return found


def migrate_ports(ports_dir: Path, store: PortStore | None = None) -> list[Migrated]:
    """Migrate every old-format port version under ``ports_dir`` (see the module docstring)."""
    store = store or port_store(ports_dir)
    return [
        _migrate_one(ports_dir, store, domain, port, version, pointer)
        for domain, port, version, pointer in old_ports(ports_dir)
    ]


def _migrate_one(
    ports_dir: Path, store: PortStore, domain: str, port: str, version: int, pointer: Path
) -> Migrated:
    address = f"{domain}.{port}"
    if current_snapshot(store, domain, port, version) is not None:
        return Migrated(address, version, "already-migrated", detail="the table has a snapshot")
    target = pointer.resolve()
    try:
        meta = json.loads(target.with_suffix(".json").read_text())
    except (OSError, ValueError) as exc:
        return Migrated(
            address, version, "failed", detail=f"{target.with_suffix('.json')}: unreadable ({exc})"
        )
    files = sorted(target.glob("*.parquet")) if target.is_dir() else [target]
    con = duckdb.connect()
    listed = ", ".join(quote_literal(str(f)) for f in files)
    con.execute(f"create view old_snapshot as select * from read_parquet([{listed}])")
    old_checksum = (
        meta.get("checksum")
        if meta.get("checksum_version") == CHECKSUM_VERSION
        else content_checksum(con, files)
    )
    column = meta.get("partition_column")
    published = publish_snapshot(
        con,
        "old_snapshot",
        store,
        domain,
        port,
        version,
        run_id=meta.get("run_id"),
        partitions=DayPartitions(column) if column else None,
    )
    if published.checksum != old_checksum:
        return Migrated(
            address, version, "failed", published.rows,
            f"checksum {published.checksum} differs from the old snapshot's {old_checksum}; "
            "the old files are untouched",
        )  # fmt: skip
    version_dir = pointer.parent
    for name in (SCHEMA_FILE, GOVERNANCE_FILE):
        old = version_dir / name
        if old.exists() and read_record(store, domain, port, version, name) is None:
            record_json(store, domain, port, version, name, json.loads(old.read_text()))
    _move_to_legacy(version_dir, [pointer, version_dir / "snapshots", *(
        version_dir / n for n in (SCHEMA_FILE, GOVERNANCE_FILE))])  # fmt: skip
    return Migrated(address, version, "migrated", published.rows)


def _move_to_legacy(version_dir: Path, paths: list[Path]) -> None:
    legacy = version_dir / LEGACY
    legacy.mkdir(exist_ok=True)
    for path in paths:
        if path.exists() or path.is_symlink():
            os.replace(path, legacy / path.name)

"""Test support: a port version published for real (a one-row Iceberg snapshot), for tests whose
subject is what happens *after* a publish (schema baselines, versioning), not the data."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mesh_platform.core.address import PortAddress
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.store import PublishedPort, current_snapshot, snapshot_history


def publish_one_row(ports_dir: Path, address: str, version: int) -> PublishedPort:
    parsed = PortAddress.parse(address)
    con = duckdb.connect()
    con.execute("create table t as select 1 as id")
    return publish_snapshot(con, "t", ports_dir, parsed.domain, parsed.port, version)


def port_sql(ports_dir: Path, address: str, version: int = 1) -> str:
    """``read_parquet([...])`` over the port version's current snapshot: what any DuckDB can
    read without the platform (a local store)."""
    parsed = PortAddress.parse(address)
    published = current_snapshot(ports_dir, parsed.domain, parsed.port, version)
    assert published is not None, f"{address} v{version} is not published"
    return f"read_parquet({published.files})"


def unnamed_files(ports_dir: Path, address: str, version: int = 1) -> list[Path]:
    """Data files in the port version's table folder that no kept snapshot names: what a
    publisher killed before its commit left (the next publish removes them)."""
    parsed = PortAddress.parse(address)
    named = {
        f for p in snapshot_history(ports_dir, parsed.domain, parsed.port, version) for f in p.files
    }
    data = ports_dir / parsed.domain / parsed.port / f"v{version}" / "data"
    return sorted(p for p in data.rglob("*.parquet") if str(p) not in named)

"""Test support: a port version published for real (a one-row Iceberg snapshot), for tests whose
subject is what happens *after* a publish (schema baselines, versioning), not the data."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mesh_platform.core.address import PortAddress
from mesh_platform.ports.store import PublishedPort, publish_snapshot


def publish_one_row(ports_dir: Path, address: str, version: int) -> PublishedPort:
    parsed = PortAddress.parse(address)
    con = duckdb.connect()
    con.execute("create table t as select 1 as id")
    return publish_snapshot(con, "t", ports_dir, parsed.domain, parsed.port, version)

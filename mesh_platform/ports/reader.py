"""The platform's own trusted reader of the published ports (tests, platform code).

Consumers do not use this: it enforces no grants, masks no personal data and writes no audit
entry. People and tools go through :func:`mesh_platform.connect` (``user=``), ``mesh query
--as`` or the portal's API (:mod:`mesh_platform.access`).

:func:`connect` returns an in-memory DuckDB connection with one view per published port —
``<domain>.<port>`` for the latest major version and ``<domain>.<port>_v<N>`` for each — over
the snapshot each port's pointer named when the connection opened: a consistent view for the
connection's lifetime. It holds a lease on those snapshots until the connection is garbage
collected (or :func:`release` is called), so retention never removes a file it reads. Nothing
is locked against writers: readers and pipelines never share a file.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import duckdb

from mesh_platform.core.address import PortAddress
from mesh_platform.core.environment import get_environment
from mesh_platform.core.sql import quote_literal
from mesh_platform.ports.store import SnapshotLease, lease_published, list_published

_leases: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, list[SnapshotLease]] = (
    weakref.WeakKeyDictionary()
)


def connect(ports_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    ports_dir = ports_dir or get_environment().ports_dir
    con = duckdb.connect(":memory:")
    leases: list[SnapshotLease] = []
    latest: dict[tuple[str, str], int] = {}
    for published in list_published(ports_dir):
        lease = lease_published(published)
        if lease is None:
            continue
        leases.append(lease)
        address = PortAddress.parse(published.address)
        domain, port = address.domain, address.port
        latest[(domain, port)] = max(latest.get((domain, port), 0), published.version)
        con.execute(f'create schema if not exists "{domain}"')
        con.execute(
            f'create view "{domain}"."{port}_v{published.version}" as '
            f"select * from read_parquet({quote_literal(str(lease.path))})"
        )
    for (domain, port), version in latest.items():
        con.execute(
            f'create view "{domain}"."{port}" as select * from "{domain}"."{port}_v{version}"'
        )
    _leases[con] = leases
    return con


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Close ``con`` and release its leases now rather than at garbage collection."""
    con.close()
    for lease in _leases.pop(con, []):
        lease.release()

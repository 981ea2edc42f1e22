"""The platform's own trusted reader of the published ports (tests, platform code).

Consumers do not use this: it enforces no grants, masks no personal data and writes no audit
entry. People and tools go through :func:`mesh_platform.connect` (``user=``), ``mesh query
--as`` or the portal's API (:mod:`mesh_platform.access`).

:func:`connect` returns an in-memory DuckDB connection with one view per published port —
``<domain>.<port>`` for the latest major version and ``<domain>.<port>_v<N>`` for each — over
the snapshot each port's table had current when the connection opened (or was current at
``as_of``): a consistent view for the connection's lifetime. It holds a lease on those
snapshots until the connection is garbage collected (or :func:`release` is called), so
retention never removes a file it reads. Nothing is locked against writers: readers and
pipelines never share a file.
"""

from __future__ import annotations

import weakref
from datetime import datetime
from pathlib import Path

import duckdb

from mesh_platform.core.address import PortAddress
from mesh_platform.core.environment import get_environment
from mesh_platform.ports.location import port_store
from mesh_platform.ports.retention import SnapshotLease, lease_published
from mesh_platform.ports.scan import snapshot_source
from mesh_platform.ports.store import current_snapshot, list_published

_leases: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, list[SnapshotLease]] = (
    weakref.WeakKeyDictionary()
)


def connect(
    ports_dir: Path | None = None, as_of: datetime | None = None
) -> duckdb.DuckDBPyConnection:
    store = port_store(ports_dir or get_environment().ports_dir)
    con = duckdb.connect(":memory:")
    leases: list[SnapshotLease] = []
    latest: dict[tuple[str, str], int] = {}
    for published in list_published(store):
        address = PortAddress.parse(published.address)
        domain, port = address.domain, address.port
        if as_of is not None:
            published = current_snapshot(store, domain, port, published.version, as_of=as_of)
            if published is None:  # the port did not exist yet (or that snapshot expired)
                continue
        lease = lease_published(published, store)
        if lease is None:
            continue
        leases.append(lease)
        latest[(domain, port)] = max(latest.get((domain, port), 0), published.version)
        con.execute(f'create schema if not exists "{domain}"')
        con.execute(
            f'create view "{domain}"."{port}_v{published.version}" as '
            f"select * from {snapshot_source(con, published)}"
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

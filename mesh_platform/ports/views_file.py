"""A DuckDB file of views over the current output ports, for any DuckDB client.

``<data>/ports/mesh.duckdb`` holds one view per published port — ``<domain>.<port>`` (newest
major) and ``<domain>.<port>_v<N>`` — each reading the data files of the port's current
Iceberg snapshot. Open it read-only (``duckdb -readonly
data/ports/mesh.duckdb`` or ``duckdb.connect(path, read_only=True)``); many readers may hold it
at once and no pipeline ever opens it.

It is rebuilt after every publish: written under a new name and renamed over the old one under
a lock, so a reader opens the old or the new file, never a half-written one, and two domains
publishing at once never drop each other's views. A query through it reads the snapshot that
was current when the file was last rebuilt; retention keeps a superseded snapshot's files for
the grace period (``MESH_PORTS_GRACE_SECONDS``) and the newest five snapshots, so a query
started before a publish finishes on the files it began with.

Only a store on a local path has one: DuckDB here cannot read S3 by itself (no httpfs), so
on S3 readers use ``mesh query``, :func:`mesh_platform.connect` or the API.

What it does **not** enforce: grants, personal-data masking and the audit log. It reads the
Parquet files with the opener's own file permissions. Give it to people and tools entitled to
every port; everyone else goes through ``mesh query --as``, :func:`mesh_platform.connect` or
the portal's API.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from mesh_platform.core.address import PortAddress
from mesh_platform.core.locked_files import locked
from mesh_platform.core.sql import quote_ident
from mesh_platform.ports.location import port_store
from mesh_platform.ports.scan import snapshot_source
from mesh_platform.ports.store import list_published

VIEWS_FILE = "mesh.duckdb"


def views_file_path(ports_dir: Path) -> Path:
    return ports_dir / VIEWS_FILE


def refresh_views_file(ports_dir: Path) -> Path | None:
    """Rebuild the views file from the ports published now; return its path (None: the store
    is on S3, see the module docstring)."""
    store = port_store(ports_dir)
    if not store.is_local:
        return None
    target = views_file_path(ports_dir)
    with locked(target):
        # under the lock, any temporary is a killed builder's leftover (ours included)
        for leftover in target.parent.glob(f".{VIEWS_FILE}.*.tmp*"):
            leftover.unlink(missing_ok=True)
        tmp = target.with_name(f".{VIEWS_FILE}.{os.getpid()}.tmp")
        latest: dict[tuple[str, str], int] = {}
        con = duckdb.connect(str(tmp))
        try:
            for published in list_published(store):
                address = PortAddress.parse(published.address)
                domain, port = address.domain, address.port
                con.execute(f"create schema if not exists {quote_ident(domain)}")
                con.execute(
                    f"create view {quote_ident(domain)}.{quote_ident(f'{port}_v{published.version}')} as "
                    f"select * from {snapshot_source(con, published)}"
                )
                latest[(domain, port)] = max(latest.get((domain, port), 0), published.version)
            for (domain, port), version in sorted(latest.items()):
                con.execute(
                    f"create view {quote_ident(domain)}.{quote_ident(port)} as "
                    f"select * from {quote_ident(domain)}.{quote_ident(f'{port}_v{version}')}"
                )
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, target)
    return target

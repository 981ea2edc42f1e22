"""A DuckDB file of views over the current output ports, for any DuckDB client.

``<data>/ports/mesh.duckdb`` holds one view per published port — ``<domain>.<port>`` (newest
major) and ``<domain>.<port>_v<N>`` — each reading the port's ``current.parquet`` pointer, so a
query always reads the latest good snapshot. Open it read-only (``duckdb -readonly
data/ports/mesh.duckdb`` or ``duckdb.connect(path, read_only=True)``); many readers may hold it
at once and no pipeline ever opens it.

It is rebuilt after every publish that could add a port or a version: written under a new name
and renamed over the old one under a lock, so a reader opens the old or the new file, never a
half-written one, and two domains publishing at once never drop each other's views.

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
from mesh_platform.core.sql import quote_literal
from mesh_platform.ports.store import POINTER, list_published

VIEWS_FILE = "mesh.duckdb"


def views_file_path(ports_dir: Path) -> Path:
    return ports_dir / VIEWS_FILE


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def refresh_views_file(ports_dir: Path) -> Path:
    """Rebuild the views file from the ports published now; return its path."""
    target = views_file_path(ports_dir)
    with locked(target):
        # under the lock, any temporary is a killed builder's leftover (ours included)
        for leftover in target.parent.glob(f".{VIEWS_FILE}.*.tmp*"):
            leftover.unlink(missing_ok=True)
        tmp = target.with_name(f".{VIEWS_FILE}.{os.getpid()}.tmp")
        latest: dict[tuple[str, str], int] = {}
        con = duckdb.connect(str(tmp))
        try:
            for published in list_published(ports_dir):
                address = PortAddress.parse(published.address)
                domain, port = address.domain, address.port
                pointer = ports_dir / domain / port / f"v{published.version}" / POINTER
                con.execute(f"create schema if not exists {_quote(domain)}")
                con.execute(
                    f"create view {_quote(domain)}.{_quote(f'{port}_v{published.version}')} as "
                    f"select * from read_parquet({quote_literal(str(pointer))})"
                )
                latest[(domain, port)] = max(latest.get((domain, port), 0), published.version)
            for (domain, port), version in sorted(latest.items()):
                con.execute(
                    f"create view {_quote(domain)}.{_quote(port)} as "
                    f"select * from {_quote(domain)}.{_quote(f'{port}_v{version}')}"
                )
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, target)
    return target

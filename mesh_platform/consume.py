"""The platform's own trusted reader of the published ports (tests, platform code).

Consumers do not use this: it enforces no grants, masks no personal data and writes no audit
entry. People and tools go through :func:`mesh_platform.connect` (``user=``), ``mesh query
--as`` or the portal's API (:mod:`mesh_platform.access`).

:func:`connect` returns an in-memory DuckDB connection with one view per published port —
``<domain>.<port>`` for the latest major version and ``<domain>.<port>_v<N>`` for each — over
the ports' current snapshots. Nothing is locked: readers and pipelines never share a file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mesh_platform.environment import get_environment
from mesh_platform.ports import POINTER, list_published


def connect(ports_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    ports_dir = ports_dir or get_environment().ports_dir
    con = duckdb.connect(":memory:")
    latest: dict[tuple[str, str], int] = {}
    for published in list_published(ports_dir):
        domain, port = published.address.split(".")
        latest[(domain, port)] = max(latest.get((domain, port), 0), published.version)
        con.execute(f'create schema if not exists "{domain}"')
        pointer = ports_dir / domain / port / f"v{published.version}" / POINTER
        con.execute(
            f'create view "{domain}"."{port}_v{published.version}" as '
            f"select * from read_parquet('{pointer}')"
        )
    for (domain, port), version in latest.items():
        con.execute(
            f'create view "{domain}"."{port}" as select * from "{domain}"."{port}_v{version}"'
        )
    return con

"""Reading one published snapshot from DuckDB or pyarrow, on a local store or on S3.

A local store's data files are plain paths DuckDB's own Parquet reader scans in parallel. DuckDB
2.0 here has no S3 reader (no httpfs), so a snapshot on S3 is read as a pyarrow dataset over the
same files (pyarrow ships an S3 client, configured from the ``AWS_*`` variables), registered in
the connection: DuckDB still pushes projections and filters down to it. Either way the reader
sees exactly the snapshot's files, and every file of a snapshot has the same columns (a publish
that adds a column rewrites every day of a per-day port).
"""

from __future__ import annotations

import itertools
from typing import Any

from mesh_platform.core.sql import quote_literal
from mesh_platform.ports.location import filesystem_for, fs_path
from mesh_platform.ports.store import PublishedPort

_names = itertools.count()


def _on_s3(published: PublishedPort) -> bool:
    return any(f.startswith("s3://") for f in published.files)


def _paths(published: PublishedPort) -> list[str]:
    return [fs_path(f) for f in published.files]


def snapshot_source(connection: Any, published: PublishedPort) -> str:
    """A SQL table expression over ``published``'s rows, usable in ``connection``."""
    if not _on_s3(published):
        files = ", ".join(quote_literal(p) for p in _paths(published))
        return f"read_parquet([{files}])"
    name = f"__mesh_snapshot_{next(_names)}"
    connection.register(name, snapshot_dataset(published))
    return name


def snapshot_schema(published: PublishedPort) -> Any:
    """The Arrow schema of ``published``'s files."""
    import pyarrow.parquet as pq

    filesystem = filesystem_for(published.path)
    return pq.read_schema(_paths(published)[0], filesystem=filesystem)


def snapshot_dataset(published: PublishedPort, schema: Any = None) -> Any:
    """A pyarrow dataset over ``published``'s files (``schema``: e.g. fewer columns)."""
    import pyarrow.dataset as ds

    filesystem = filesystem_for(published.path)
    schema = schema if schema is not None else snapshot_schema(published)
    return ds.dataset(_paths(published), filesystem=filesystem, format="parquet", schema=schema)

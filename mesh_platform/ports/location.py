"""Where the published ports live: an Iceberg catalog and a data location (local or S3).

Three settings, read lazily from the environment:

- the **anchor** — the local ports directory (``<data>/ports``, or the directory a caller names):
  the embedded catalog, the read-only views file, rejects and publish locks live here;
- ``MESH_PORTS_URI`` — where the tables' data and metadata files go: a local path (default: the
  anchor) or ``s3://bucket/prefix`` on any S3-compatible store, reached with the standard
  ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION``;
- ``MESH_PORTS_CATALOG`` — the Iceberg catalog: a SQLAlchemy URL (default: SQLite in the anchor,
  ``postgresql+psycopg2://…`` in production) or a REST catalog's ``http(s)://`` URL.

One table per port and major version: namespace ``<domain>``, table ``<port>_v<major>``, at
``<MESH_PORTS_URI>/<domain>/<port>/v<major>``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

PORTS_URI_ENV = "MESH_PORTS_URI"
PORTS_CATALOG_ENV = "MESH_PORTS_CATALOG"
CATALOG_FILE = "catalog.db"
CATALOG_NAME = "mesh"


@dataclass(frozen=True)
class PortStore:
    """The resolved settings of one port store (see the module docstring)."""

    anchor: Path
    data_uri: str
    catalog_uri: str

    @property
    def is_local(self) -> bool:
        return "://" not in self.data_uri or self.data_uri.startswith("file://")

    def table_location(self, domain: str, port: str, version: int) -> str:
        return f"{self.data_uri.rstrip('/')}/{domain}/{port}/v{version}"

    def local_path(self, uri: str) -> Path:
        """A local store's file as a path (``file://`` stripped)."""
        return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def port_store(anchor: Path | PortStore) -> PortStore:
    """The store rooted at the local ports directory ``anchor`` (see the module docstring)."""
    if isinstance(anchor, PortStore):
        return anchor
    anchor = Path(anchor)
    data_uri = os.environ.get(PORTS_URI_ENV) or str(anchor.resolve())
    parsed = urlparse(data_uri)
    if parsed.scheme not in {"", "file", "s3"}:
        raise ValueError(
            f"{PORTS_URI_ENV}={data_uri!r}: ports live on a local path or at s3://bucket/prefix "
            "(any S3-compatible store, with AWS_ENDPOINT_URL and the AWS_* keys)"
        )
    if parsed.scheme == "s3" and not parsed.netloc:
        raise ValueError(f"{PORTS_URI_ENV}={data_uri!r} names no bucket: use s3://bucket/prefix")
    catalog_uri = (
        os.environ.get(PORTS_CATALOG_ENV) or f"sqlite:///{anchor.resolve() / CATALOG_FILE}"
    )
    return PortStore(anchor=anchor, data_uri=data_uri, catalog_uri=catalog_uri)


def s3_properties() -> dict[str, str]:
    """pyiceberg's FileIO properties from the standard AWS_* variables."""
    names = (
        ("AWS_ENDPOINT_URL", "s3.endpoint"),
        ("AWS_ACCESS_KEY_ID", "s3.access-key-id"),
        ("AWS_SECRET_ACCESS_KEY", "s3.secret-access-key"),
        ("AWS_SESSION_TOKEN", "s3.session-token"),
        ("AWS_REGION", "s3.region"),
    )
    props = {prop: os.environ[var] for var, prop in names if os.environ.get(var)}
    if "s3.region" not in props and os.environ.get("AWS_DEFAULT_REGION"):
        props["s3.region"] = os.environ["AWS_DEFAULT_REGION"]
    return props


_filesystems: dict[tuple[str, ...], Any] = {}


def arrow_filesystem(store: PortStore) -> Any:
    """A pyarrow filesystem for the store's data (one per process and setting)."""
    return filesystem_for(store.data_uri)


def filesystem_for(uri: str) -> Any:
    """A pyarrow filesystem for files at ``uri``: S3 (from the ``AWS_*`` variables) for an
    ``s3://`` URI, the local one otherwise — whatever this process's ``MESH_PORTS_URI`` says."""
    from pyarrow import fs

    if not uri.startswith("s3://"):
        return fs.LocalFileSystem()
    props = s3_properties()
    key = tuple(sorted(props.items()))
    if key not in _filesystems:
        _filesystems[key] = _s3_filesystem(props)
    return _filesystems[key]


def _s3_filesystem(props: dict[str, str]) -> Any:
    from pyarrow import fs

    endpoint = props.get("s3.endpoint")
    kwargs: dict[str, Any] = {
        "access_key": props.get("s3.access-key-id"),
        "secret_key": props.get("s3.secret-access-key"),
        "session_token": props.get("s3.session-token"),
        "region": props.get("s3.region"),
    }
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs["endpoint_override"] = parsed.netloc or endpoint
        kwargs["scheme"] = parsed.scheme or "https"
    return fs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})


def fs_path(uri: str) -> str:
    """A URI as pyarrow's filesystems name it (``s3://b/k`` → ``b/k``; a local path as is)."""
    for prefix in ("s3://", "file://"):
        if uri.startswith(prefix):
            return uri[len(prefix) :]
    return uri


_catalogs: dict[tuple[str, str], Any] = {}
_catalogs_lock = threading.Lock()


def load_catalog(store: PortStore) -> Any:
    """The store's Iceberg catalog (one per process and setting; creating it creates its
    tables in the database if missing)."""
    key = (store.catalog_uri, store.data_uri)
    with _catalogs_lock:
        if key not in _catalogs:
            _catalogs[key] = _new_catalog(store)
        return _catalogs[key]


def _new_catalog(store: PortStore) -> Any:
    props = {"warehouse": store.data_uri, **({} if store.is_local else s3_properties())}
    scheme = urlparse(store.catalog_uri).scheme
    if scheme in {"http", "https"}:
        from pyiceberg.catalog.rest import RestCatalog

        return RestCatalog(CATALOG_NAME, uri=store.catalog_uri, **props)
    from pyiceberg.catalog.sql import SqlCatalog

    if scheme.startswith("sqlite"):
        store.anchor.mkdir(parents=True, exist_ok=True)
    from sqlalchemy.exc import IntegrityError, OperationalError

    try:
        try:
            catalog = SqlCatalog(CATALOG_NAME, uri=store.catalog_uri, **props)
        except (IntegrityError, OperationalError) as exc:
            # another process created the catalog's tables at the same moment (pyiceberg
            # checks, then creates: PostgreSQL reports the loser's CREATE as a unique
            # violation, SQLite as "table … already exists"): they exist now
            if isinstance(exc, OperationalError) and "already exists" not in str(exc):
                raise
            catalog = SqlCatalog(CATALOG_NAME, uri=store.catalog_uri, **props)
    except Exception as exc:  # a bad URL or an unreachable database: say which setting
        raise RuntimeError(
            f"the ports' Iceberg catalog at {PORTS_CATALOG_ENV}={redacted(store.catalog_uri)} "
            f"cannot be opened: {exc}"
        ) from exc
    if store.is_local and scheme.startswith("sqlite"):
        _require_not_moved(store, catalog)
    return catalog


def _require_not_moved(store: PortStore, catalog: Any) -> None:
    """Fail, saying what to do, when the local ports were published under a path that is gone.

    Iceberg records every metadata and data file by its absolute path, so a data directory
    moved elsewhere (a renamed project folder, a backup restored to another path) still points
    at the old one, and every read would fail on a missing file. (A copy whose original still
    exists reads — and publishes into — the original's table folders; the tests' copies of a
    built mesh rely on that, so it is not refused here.)
    """
    import sqlalchemy as sa

    root = store.local_path(store.data_uri).resolve()
    query = sa.text(
        "select metadata_location from iceberg_tables "
        "where catalog_name = :name and metadata_location is not null limit 1"
    )
    with catalog.engine.connect() as connection:
        found = connection.execute(query, {"name": CATALOG_NAME}).scalar()
    if found is None:
        return
    metadata = store.local_path(found)  # <root>/<domain>/<port>/v<major>/metadata/<file>
    if metadata.is_relative_to(root) or metadata.exists():
        return
    published_under = metadata.parents[4]
    raise RuntimeError(
        f"the published ports in {root} were written at {published_under}: Iceberg records "
        "every file by its absolute path, so published ports cannot be moved to another "
        f"path. Move the data directory back so that its ports are at "
        f"{published_under} again (or point MESH_DATA_DIR at the original), or publish afresh "
        f"here: remove {store.anchor} and run `mesh materialize` (the ports' earlier "
        "snapshots are then not carried over)."
    )


def redacted(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri

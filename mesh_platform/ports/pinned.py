"""A step's upstream ports, pinned as local Parquet folders for its dbt sources and engine.

A consumer domain's dbt sources read a port at
``{{ env_var('MESH_PORTS_DIR') }}/<domain>/<port>/v<major>/current.parquet`` — a path DuckDB and
Spark both read as one table. For a step, ``MESH_PORTS_DIR`` is this module's folder
(``<data>/inputs/<step>/``), where each ``current.parquet`` is a folder of links to the data
files of the snapshot the step resolved before dbt started, so:

- the models, the change tracking (``changes.py``) and the uniqueness check all see the same
  snapshot, even when the upstream domain publishes while the step runs;
- the step leases those snapshots: retention keeps their files until the step ends;
- on a local store the links point at the table's own files (nothing copied); on S3 each file
  is downloaded once into ``<data>/inputs/.cache/`` (Iceberg data files never change, so the
  cache is always right) and the links point there. DuckDB 2.0 here has no S3 reader of its
  own, and Spark no S3 connector; a local copy is what both can read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from mesh_platform.core.address import PortAddress
from mesh_platform.ports.location import PortStore, arrow_filesystem, fs_path, port_store
from mesh_platform.ports.retention import SnapshotLease, lease_published
from mesh_platform.ports.store import PublishedPort

POINTER = "current.parquet"
CACHE = ".cache"


def inputs_root(data_dir: Path) -> Path:
    return data_dir / "inputs"


@contextlib.contextmanager
def pinned_inputs(
    ports_dir: Path | PortStore,
    data_dir: Path,
    step: str,
    upstream: Mapping[tuple[str, int], PublishedPort | None],
) -> Iterator[Path]:
    """Lease and link ``upstream`` (``(address, major)`` → its resolved snapshot) under
    ``<data>/inputs/<step>/``; yield that folder (the step's ``MESH_PORTS_DIR``). A port never
    published gets no folder: the step holds back the models reading it before dbt runs
    (build/unpublished_inputs.py)."""
    store = port_store(ports_dir)
    root = inputs_root(data_dir)
    folder = root / step
    shutil.rmtree(folder, ignore_errors=True)  # a previous run's links (this step runs alone)
    folder.mkdir(parents=True, exist_ok=True)
    leases: list[SnapshotLease] = []
    try:
        for (address, major), published in sorted(upstream.items()):
            if published is None:
                continue
            lease = lease_published(published, store)
            if lease is None:  # expired since it was resolved: the port moved on twice
                raise RuntimeError(
                    f"port {address} v{major}: its snapshot {published.snapshot_id} expired "
                    "while the step started; run the step again"
                )
            leases.append(lease)
            local = [_local_file(store, root, uri) for uri in published.files]
            link_snapshot(folder, address, major, local, os.symlink)
        yield folder
    finally:
        for lease in leases:
            lease.release()
        if not store.is_local:
            prune_cache(data_dir)


def link_snapshot(
    root: Path, address: str, major: int, files: list[Path], link: Callable[[str, str], None]
) -> Path:
    """``<root>/<domain>/<port>/v<major>/current.parquet/``: one ``link`` per snapshot file,
    named so DuckDB and Spark read the folder as one table (no leading ``.`` or ``_``)."""
    parsed = PortAddress.parse(address)
    target = root / parsed.domain / parsed.port / f"v{major}" / POINTER
    target.mkdir(parents=True)
    for i, file in enumerate(files):
        link(str(file), str(target / f"{i:05d}-{file.name}"))
    return target


def _local_file(store: PortStore, root: Path, uri: str) -> Path:
    if store.is_local:
        return store.local_path(uri)
    digest = hashlib.sha256(uri.encode()).hexdigest()[:32]
    cached = root / CACHE / f"{digest}.parquet"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        with (
            arrow_filesystem(store).open_input_stream(fs_path(uri)) as source,
            open(tmp, "wb") as sink,
        ):
            shutil.copyfileobj(source, sink, length=8 << 20)
        os.replace(tmp, cached)
    return cached


def prune_cache(data_dir: Path, older_than_seconds: float = 3600) -> int:
    """Remove cached S3 files no step's folder links to any more (and not fetched in the last
    hour: another step may be about to link it); return how many."""
    cache = inputs_root(data_dir) / CACHE
    if not cache.exists():
        return 0
    linked = {
        os.path.realpath(link)
        for link in inputs_root(data_dir).rglob("*.parquet")
        if link.is_symlink()
    }
    cutoff = time.time() - older_than_seconds
    removed = 0
    for file in cache.glob("*.parquet"):
        if str(file.resolve()) not in linked and file.stat().st_mtime < cutoff:
            file.unlink(missing_ok=True)
            removed += 1
    return removed

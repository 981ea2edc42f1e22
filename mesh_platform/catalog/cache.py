"""The catalog, kept on disk between processes: the portal, its API and ``mesh catalog`` read
one file instead of parsing every descriptor, model YAML and contract (and opening every
published port's Iceberg table) again.

The file (``<data>/cache/catalog.json``, owner-only like everything the mesh writes) is keyed
by a fingerprint of every input :func:`~mesh_platform.catalog.build.build_catalog` reads: each
file under ``domains/`` and the domains' dbt ``models/`` folders, the operational data's window,
the port store's Iceberg catalog file and the records beside each port (path, ``mtime_ns`` and
size of each), ``pyproject.toml``, the platform's own source files, and the environment's paths.
A cache whose fingerprint differs is rebuilt, never served; an unreadable one is rebuilt
silently. A port store the fingerprint cannot watch cheaply (S3 data, or an Iceberg catalog
other than the local SQLite file) is not cached: the catalog is built every time, as before.

JSON, not pickle: a file in the data directory is never trusted to run code when read.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from mesh_platform.catalog.build import build_catalog
from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import (
    ColumnEntry,
    DomainEntry,
    InputEntry,
    PortEntry,
    ProductEntry,
)
from mesh_platform.core.data_window import WINDOW_FILE
from mesh_platform.core.environment import MeshEnvironment, get_environment
from mesh_platform.ports.location import CATALOG_FILE, port_store
from mesh_platform.ports.store import PublishedPort

CACHE_FORMAT = 1  # bumped when the file's layout changes
PLATFORM_DIR = Path(__file__).resolve().parents[1]  # mesh_platform/


def cache_path(env: MeshEnvironment) -> Path:
    return env.data_dir / "cache" / "catalog.json"


# --- the fingerprint --------------------------------------------------------------------------

# A file changed this recently may change again within its file system's timestamp resolution
# without its size changing (the "racy" case git also guards against): such a catalog is served
# but not cached, so the next process builds it again.
RACY_SECONDS = 2.0


class _Inputs:
    """Path, ``mtime_ns`` and size of every input file, and the newest modification time."""

    def __init__(self, *header: str) -> None:
        self.lines = list(header)
        self.newest_ns = 0

    def file(self, path: Path | str) -> None:
        try:
            found = os.stat(path)
        except OSError:
            self.lines.append(f"{path}\0absent")
            return
        self.lines.append(f"{path}\0{found.st_mtime_ns}\0{found.st_size}")
        self.newest_ns = max(self.newest_ns, found.st_mtime_ns)

    def tree(self, root: Path | str, suffixes: tuple[str, ...] = ()) -> None:
        """Every file under ``root``, recursively (a missing folder counts as one input)."""
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            self.lines.append(f"{root}\0absent")
            return
        for entry in entries:
            if entry.is_dir():
                if entry.name not in ("__pycache__", "target", "logs", "dbt_packages"):
                    self.tree(entry.path, suffixes)
            elif not suffixes or entry.name.endswith(suffixes):
                self.file(entry.path)

    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.lines).encode()).hexdigest()


def _inputs(env: MeshEnvironment) -> _Inputs | None:
    store = port_store(env.ports_dir)
    default_catalog = f"sqlite:///{store.anchor.resolve() / CATALOG_FILE}"
    if not store.is_local or store.catalog_uri != default_catalog:
        return None
    inputs = _Inputs(f"format {CACHE_FORMAT}", env.name, str(env.repo_root), str(env.data_dir))
    inputs.lines += [store.data_uri, store.catalog_uri]
    inputs.tree(env.domains_dir)
    dbt_dir = env.dbt_project_dir
    for domain_dir in sorted(p for p in env.domains_dir.glob("*") if p.is_dir()):
        inputs.tree(dbt_dir / domain_dir.name / "models", (".yml", ".yaml"))
        inputs.tree(dbt_dir / "models" / domain_dir.name, (".yml", ".yaml"))  # the old layout
    inputs.file(env.operational_dir / WINDOW_FILE)
    inputs.file(env.repo_root / "pyproject.toml")
    for suffix in ("", "-wal", "-journal"):  # a publish commits to the file or its journal
        inputs.file(store.anchor / f"{CATALOG_FILE}{suffix}")
    data = store.local_path(store.data_uri)
    for record in sorted(data.glob("*/*/v*/mesh/*.json")):  # governance.json, schema.json
        inputs.file(record)
    inputs.tree(PLATFORM_DIR, (".py",))  # another platform version builds another catalog
    return inputs


def fingerprint(env: MeshEnvironment) -> str | None:
    """A digest of everything the catalog is built from, or None when the port store is not
    one this can watch (remote data, or an Iceberg catalog other than the local SQLite file)."""
    inputs = _inputs(env)
    return inputs.digest() if inputs else None


# --- the file ---------------------------------------------------------------------------------


def _encode_port(port: PortEntry) -> dict[str, Any]:
    return {
        **vars(port),
        "columns": [vars(c) for c in port.columns],
        "published": vars(port.published) if port.published else None,
    }


def _encode(catalog: Catalog) -> dict[str, Any]:
    """The entries as plain JSON values (fields by name: :func:`_decode` is its inverse)."""
    products = [
        {
            **vars(p),
            "inputs": [vars(i) for i in p.inputs],
            "ports": [_encode_port(port) for port in p.ports],
        }
        for p in catalog.products.values()
    ]
    domains = [vars(d) for d in catalog.domains.values()]
    return {"products": products, "domains": domains, "problems": catalog.problems}


def _port(raw: dict[str, Any]) -> PortEntry:
    published = raw["published"]
    return PortEntry(
        **{
            **raw,
            "columns": tuple(ColumnEntry(**c) for c in raw["columns"]),
            "check_names": tuple(raw["check_names"]),
            "published": PublishedPort(**published) if published else None,
        }
    )


def _decode(payload: dict[str, Any]) -> Catalog:
    products = {}
    for raw in payload["products"]:
        product = ProductEntry(
            **{
                **raw,
                "tags": tuple(raw["tags"]),
                "inputs": tuple(InputEntry(**i) for i in raw["inputs"]),
                "ports": tuple(_port(p) for p in raw["ports"]),
                "downstream": list(raw["downstream"]),
                "caveats": tuple(raw["caveats"]),
            }
        )
        products[product.key] = product
    domains = {
        d["name"]: DomainEntry(**{**d, "products": tuple(d["products"])})
        for d in payload["domains"]
    }
    return Catalog(products=products, domains=domains, problems=list(payload["problems"]))


def _read(path: Path, expected: str) -> Catalog | None:
    """The cached catalog if the file is readable and built from the same inputs."""
    try:
        payload = json.loads(path.read_bytes())
        if payload.get("format") != CACHE_FORMAT or payload.get("fingerprint") != expected:
            return None
        return _decode(payload["catalog"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, truncated, edited by hand, or an older layout: rebuilt


def _write(path: Path, expected: str, catalog: Catalog) -> None:
    """Write atomically (a reader sees the old file or the new one), readable by the owner
    only; a data directory that cannot be written just means no cache."""
    payload = {"format": CACHE_FORMAT, "fingerprint": expected, "catalog": _encode(catalog)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def load_catalog(env: MeshEnvironment | None = None) -> Catalog:
    """The catalog of ``env``: from the cache when nothing it was built from changed, else
    built from the files (and cached for the next process)."""
    return load_keyed(env)[0]


def load_keyed(env: MeshEnvironment | None = None) -> tuple[Catalog, str | None]:
    """The catalog and the :func:`fingerprint` it stands for — None when it cannot be trusted
    to stand for it (an unwatched port store, or inputs changed too recently): a caller
    holding the catalog may keep it while :func:`fingerprint` still returns that key."""
    env = env or get_environment()
    inputs = _inputs(env)
    if inputs is None:
        return build_catalog(env), None
    expected = inputs.digest()
    path = cache_path(env)
    cached = _read(path, expected)
    if cached is not None:
        return cached, expected
    # Built after the fingerprint was taken: if an input changes meanwhile, the next
    # fingerprint differs from the one stored, so the file is rebuilt, never served stale.
    catalog = build_catalog(env)
    if time.time_ns() - inputs.newest_ns <= RACY_SECONDS * 1e9:
        return catalog, None
    _write(path, expected, catalog)
    return catalog, expected

"""The mesh's one dbt project: its manifest, prepared once and cached until the project changes.

Code locations only read ``manifest.json``; they never parse dbt at load. When the project's
files change, the first process to notice re-parses (in-process, under a file lock so five
code locations starting together do not parse five times).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from mesh_platform.core.environment import apply_tool_env

_VERSION_IN_LOCATION = re.compile(r"/v(\d+)/")
PROJECT_FILES = ("*.yml", "*.yaml", "*.sql", "*.csv", "*.md")


class DbtProjectError(RuntimeError):
    """dbt could not parse the project; the message carries dbt's own explanation."""


def project_fingerprint(project_dir: Path) -> str:
    """A hash of every file dbt reads, to know when the cached manifest is stale."""
    digest = hashlib.sha256()
    for pattern in PROJECT_FILES:
        for path in sorted(project_dir.rglob(pattern)):
            rel = path.relative_to(project_dir)
            if rel.parts[0] in {"target", "dbt_packages", "logs"}:
                continue
            digest.update(str(rel).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _parse(project_dir: Path) -> None:
    from dbt.cli.main import dbtRunner

    env = apply_tool_env()  # telemetry off, and the paths the project's YAML reads
    result = dbtRunner().invoke(
        [
            "parse",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--target-path",
            str(project_dir / "target"),
            "--log-path",
            str(env.data_dir / "logs"),
            "--quiet",
        ]
    )
    if not result.success:
        log_file = env.data_dir / "logs" / "dbt.log"
        raise DbtProjectError(
            f"dbt could not parse {project_dir}: {result.exception or 'see ' + str(log_file)}. "
            "Fix the model or YAML it names, then retry."
        )


def prepare_manifest(project_dir: Path, force: bool = False) -> Path:
    """Parse the dbt project if its manifest is missing or stale; return the manifest path."""
    path = manifest_path(project_dir)
    stamp = path.with_name("mesh_fingerprint.txt")
    with _locked(project_dir / "target" / ".prepare.lock"):
        fingerprint = project_fingerprint(project_dir)
        fresh = path.exists() and stamp.exists() and stamp.read_text() == fingerprint
        if force or not fresh:
            _parse(project_dir)
            stamp.write_text(fingerprint)
    return path


@lru_cache(maxsize=4)
def _read_manifest(path: str, mtime_ns: int) -> Mapping[str, Any]:
    return json.loads(Path(path).read_text())


def load_manifest(project_dir: Path) -> Mapping[str, Any]:
    """The parsed manifest, preparing it first only when the project changed."""
    path = prepare_manifest(project_dir)
    return _read_manifest(str(path), path.stat().st_mtime_ns)


def model_node(manifest: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"] == name:
            return node
    return None


def source_port_address(props: Mapping[str, Any]) -> str | None:
    """The output port a dbt source reads (``meta.mesh_port: <domain>.<port>``), if any."""
    meta = {**props.get("source_meta", {}), **props.get("meta", {})}
    return meta.get("mesh_port")


def source_major(props: Mapping[str, Any]) -> int | None:
    """The major version of a port a ``mesh_port`` source reads, if it can be told."""
    meta = {**props.get("source_meta", {}), **props.get("meta", {})}
    if meta.get("mesh_port_version") is not None:
        return int(meta["mesh_port_version"])
    location = str(meta.get("external_location") or props.get("external_location") or "")
    found = _VERSION_IN_LOCATION.findall(location)
    return int(found[-1]) if found else None


def domain_of(node: Mapping[str, Any]) -> str:
    """A node's domain is the folder under models/ it lives in (fqn[1])."""
    return node["fqn"][1]


def domain_models(manifest: Mapping[str, Any], domain: str) -> dict[str, Mapping[str, Any]]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and domain_of(node) == domain
    }


def in_domain_ancestors(manifest: Mapping[str, Any], unique_id: str) -> set[str]:
    """Models of the same domain that ``unique_id`` is built from (excluding itself)."""
    domain = domain_of(manifest["nodes"][unique_id])
    seen: set[str] = set()
    stack = [unique_id]
    while stack:
        for parent in manifest["nodes"].get(stack.pop(), {}).get("depends_on", {}).get("nodes", []):
            node = manifest["nodes"].get(parent)
            in_domain = node and node["resource_type"] == "model" and domain_of(node) == domain
            if in_domain and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen

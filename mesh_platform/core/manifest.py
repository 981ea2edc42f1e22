"""The domains' dbt projects: one per domain, each parsed once and cached until it changes.

Every domain owns a dbt project under ``dbt_project/<domain>/`` (its models, macros, seeds,
tests and local packages; the platform's macros come as the local package ``mesh``, see
``mesh_platform/dbt_package``). A domain's code location reads only its own project's
``manifest.json`` and never parses dbt at load. When the project's files (or the platform's
package, or the shared profile) change, the first process to notice re-parses that project
alone, in-process, under a file lock so processes starting together do not parse it twice.

Nodes of a domain's manifest carry ``mesh_domain`` (the project's folder name), so code that
sees several domains' nodes at once — the mesh-wide view of :func:`load_mesh_manifest` used by
lint, lineage and the catalog — always knows whose node it is, whatever the project is called.
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

from mesh_platform.core.environment import (
    MESH_DBT_PACKAGE,
    MeshEnvironment,
    apply_tool_env,
    get_environment,
    temporary_environ,
)

_VERSION_IN_LOCATION = re.compile(r"/v(\d+)/")
PROJECT_FILES = ("*.yml", "*.yaml", "*.sql", "*.csv", "*.md")
_NOT_SOURCES = {"target", "dbt_packages", "logs"}
_GENERATED = {"package-lock.yml"}
# The parts of a manifest keyed by unique id, merged in the mesh-wide view.
_KEYED = ("nodes", "sources", "exposures", "metrics", "groups", "semantic_models", "unit_tests")


class DbtProjectError(RuntimeError):
    """dbt could not parse the project; the message carries dbt's own explanation."""


def domain_projects(env: MeshEnvironment | None = None) -> list[str]:
    """The domains that own a dbt project (``dbt_project/<domain>/dbt_project.yml``)."""
    env = env or get_environment()
    root = env.dbt_project_dir
    return sorted(p.parent.name for p in root.glob("*/dbt_project.yml"))


def profiles_dir(project_dir: Path) -> Path:
    """The domain's own ``profiles.yml`` if it has one, else the mesh's shared one."""
    return project_dir if (project_dir / "profiles.yml").exists() else project_dir.parent


def _source_files(folder: Path) -> Iterator[Path]:
    for pattern in PROJECT_FILES:
        for path in sorted(folder.rglob(pattern)):
            rel = path.relative_to(folder)
            if rel.parts[0] in _NOT_SOURCES or rel.name in _GENERATED:
                continue
            yield path


def project_fingerprint(project_dir: Path) -> str:
    """A hash of every file dbt reads for this project, to know when its manifest is stale:
    the project's own files, the platform's package and the profile it uses."""
    digest = hashlib.sha256()
    profile = profiles_dir(project_dir) / "profiles.yml"
    for label, folder in (("project", project_dir), ("mesh", MESH_DBT_PACKAGE)):
        for path in _source_files(folder):
            digest.update(f"{label}/{path.relative_to(folder)}".encode())
            digest.update(path.read_bytes())
    if profile.exists():
        digest.update(profile.read_bytes())
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


def _invoke(project_dir: Path, command: str, env: MeshEnvironment) -> None:
    from dbt.cli.main import dbtRunner

    extra = ["--target-path", str(project_dir / "target")] if command == "parse" else []
    args = [command, "--project-dir", str(project_dir), "--profiles-dir"]
    args += [str(profiles_dir(project_dir)), *extra, "--log-path", str(env.data_dir / "logs")]
    # The profile names each domain's DuckDB file after MESH_DOMAIN: parsed with it set, the
    # manifest's relation names are the real ones (<domain>.marts.<model>).
    with temporary_environ({"MESH_DOMAIN": project_dir.name}):
        result = dbtRunner().invoke([*args, "--quiet"])
    if not result.success:
        log_file = env.data_dir / "logs" / "dbt.log"
        raise DbtProjectError(
            f"dbt could not {command} the project of domain {project_dir.name} ({project_dir}): "
            f"{result.exception or 'see ' + str(log_file)}. Fix the file it names, then retry."
        )


def _needs_packages(project_dir: Path) -> bool:
    """Whether the project's local packages must be installed (``dbt deps``) before parsing.

    Only local packages are allowed (nothing downloads), so installing is a symlink per
    package; it is redone when the package list changed since the last install.
    """
    spec = next(
        (
            project_dir / f
            for f in ("packages.yml", "dependencies.yml")
            if (project_dir / f).exists()
        ),
        None,
    )
    if spec is None:
        return False
    installed = project_dir / "dbt_packages"
    if not installed.exists() or installed.stat().st_mtime_ns < spec.stat().st_mtime_ns:
        return True
    # a copy of the repository (or a moved one) may hold links to where the packages were
    return not any(installed.iterdir()) or not all(p.exists() for p in installed.iterdir())


def prepare_manifest(project_dir: Path, force: bool = False) -> Path:
    """Parse one domain's dbt project if its manifest is missing or stale; return its path."""
    path = manifest_path(project_dir)
    stamp = path.with_name("mesh_fingerprint.txt")
    if not (project_dir / "dbt_project.yml").exists():
        raise DbtProjectError(
            f"domain {project_dir.name} has no dbt project: {project_dir}/dbt_project.yml is "
            "missing (`mesh new domain` or `mesh import dbt` creates one)"
        )
    with _locked(project_dir / "target" / ".prepare.lock"):
        fingerprint = project_fingerprint(project_dir)
        fresh = path.exists() and stamp.exists() and stamp.read_text() == fingerprint
        packages = force or _needs_packages(project_dir)  # a build needs them as a parse does
        if packages or not fresh:
            env = apply_tool_env()  # telemetry off, and the paths the project's YAML reads
            if packages:
                _invoke(project_dir, "deps", env)
            if force or not fresh:
                _invoke(project_dir, "parse", env)
                stamp.write_text(fingerprint)
    return path


def prepare_all(env: MeshEnvironment | None = None, force: bool = False) -> list[Path]:
    """Prepare every domain's project (``mesh prepare``, ``make demo``, the production stack)."""
    env = env or get_environment()
    return [prepare_manifest(env.domain_dbt_dir(d), force=force) for d in domain_projects(env)]


@lru_cache(maxsize=16)
def _read_manifest(path: str, mtime_ns: int, domain: str) -> Mapping[str, Any]:
    manifest = json.loads(Path(path).read_text())
    for key in _KEYED:
        for node in (manifest.get(key) or {}).values():
            node["mesh_domain"] = domain
    return manifest


def load_manifest(project_dir: Path) -> Mapping[str, Any]:
    """One domain's parsed manifest, preparing it first only when its project changed."""
    path = prepare_manifest(project_dir)
    return _read_manifest(str(path), path.stat().st_mtime_ns, project_dir.name)


def load_domain_manifest(domain: str, env: MeshEnvironment | None = None) -> Mapping[str, Any]:
    env = env or get_environment()
    return load_manifest(env.domain_dbt_dir(domain))


def load_mesh_manifest(env: MeshEnvironment | None = None) -> Mapping[str, Any]:
    """Every domain's manifest in one view, for what spans domains (lint, lineage, catalog).

    Unique ids carry the project name (``model.<project>.<model>``), so two domains' models
    may share a name; two domains' projects may not share a project name.
    """
    env = env or get_environment()
    paths = {d: prepare_manifest(env.domain_dbt_dir(d)) for d in domain_projects(env)}
    return _merged(tuple((d, str(p), p.stat().st_mtime_ns) for d, p in paths.items()))


@lru_cache(maxsize=2)
def _merged(versions: tuple[tuple[str, str, int], ...]) -> Mapping[str, Any]:
    parts = [(d, _read_manifest(path, mtime, d)) for d, path, mtime in versions]
    names: dict[str, str] = {}
    merged: dict[str, Any] = {k: {} for k in (*_KEYED, "macros", "docs", "child_map", "parent_map")}
    for domain, manifest in parts:
        project = manifest["metadata"]["project_name"]
        if project in names:
            raise DbtProjectError(
                f"domains {names[project]} and {domain} both name their dbt project "
                f"{project!r}: rename one (`name:` in dbt_project/{domain}/dbt_project.yml)"
            )
        names[project] = domain
        for key in merged:
            merged[key].update(manifest.get(key) or {})
    merged["metadata"] = {"project_name": None, "projects": dict(names)}
    return merged


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
    """A node's domain: the domain whose dbt project it was parsed from (see module doc)."""
    return node["mesh_domain"]


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


def node_file(node: Mapping[str, Any], patch: bool = False) -> str:
    """The repository path of a node's SQL file (or, with ``patch``, of its YAML properties)."""
    relative = node["original_file_path"]
    if patch and node.get("patch_path"):
        relative = node["patch_path"].split("://", 1)[-1]
    return f"dbt_project/{domain_of(node)}/{relative}"


def mesh_manifest_at(repo_root: Path) -> Mapping[str, Any]:
    """The mesh-wide manifest of another copy of the mesh's sources (e.g. a git revision)."""
    from dataclasses import replace

    return load_mesh_manifest(replace(get_environment(), repo_root=repo_root))

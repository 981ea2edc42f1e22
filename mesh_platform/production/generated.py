"""Every deployment file ``mesh infra helm-values`` generates, as one set.

The Helm values and the manifests beside them (volumes, source Jobs, portal) come from one
plan (k8s_plan.py), so they are written, and checked for drift, together: a domain added
without its volume, or a volume without its domain, cannot be committed unnoticed.
"""

from __future__ import annotations

from pathlib import Path

from mesh_platform.core.deployment import DomainDeployment
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.production import helm, manifests
from mesh_platform.production.k8s_plan import DEFAULT_TAG, cluster_plan


def generated_files(
    env: MeshEnvironment,
    image: str | None = None,
    tag: str = DEFAULT_TAG,
    teams: dict[str, str] | None = None,
    ports_uri: str | None = None,
    aws_region: str | None = None,
    aws_endpoint_url: str | None = None,
    specs: dict[str, DomainDeployment | None] | None = None,
) -> dict[Path, str]:
    """Path (relative to the repository) -> text, for every generated deployment file."""
    plan = cluster_plan(env, image, tag, teams, ports_uri, aws_region, aws_endpoint_url, specs)
    return {helm.VALUES_FILE: helm.values_text(plan), **manifests.manifest_texts(plan)}


def stale_files(repo_root: Path, files: dict[Path, str]) -> list[Path]:
    """The generated files whose committed copy is missing or differs."""
    return [
        path
        for path, text in files.items()
        if not (repo_root / path).exists() or (repo_root / path).read_text() != text
    ]


def write_files(repo_root: Path, files: dict[Path, str]) -> None:
    for path, text in files.items():
        target = repo_root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

"""packages.yml and dependencies.yml: which package entries can come along into the mesh.

Nothing may be downloaded at import or at any later build, so only ``local:`` packages inside the
project are carried; hub, git, tarball and private packages, and dbt Mesh ``projects:`` (another
dbt project's public models), are refused by name. Read with plain YAML, before dbt runs, so a
refused project never reaches ``dbt deps``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mesh_platform.core import yaml_io
from mesh_platform.scaffold.dbt_import.summary import Finding, PackageEntry

PACKAGE_FILES = ("packages.yml", "dependencies.yml")
_KINDS = ("local", "package", "git", "tarball", "private")


def read_packages(project_dir: Path) -> tuple[list[PackageEntry], list[Finding]]:
    """Every package entry of the project, and a finding for each one that cannot come along."""
    entries: list[PackageEntry] = []
    findings: list[Finding] = []
    for file in PACKAGE_FILES:
        path = project_dir / file
        if not path.exists():
            continue
        try:
            document = yaml_io.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            findings.append(Finding("refused", file, f"is not valid YAML: {exc}"))
            continue
        for raw in document.get("packages") or []:
            entries.append(_entry(raw, file))
        for raw in document.get("projects") or []:
            name = raw.get("name") if isinstance(raw, dict) else raw
            entries.append(PackageEntry("project", str(name), file))
    for entry in entries:
        finding = _refusal(entry, project_dir)
        if finding:
            findings.append(finding)
    return entries, findings


def _entry(raw: object, file: str) -> PackageEntry:
    if isinstance(raw, dict):
        for kind in _KINDS:
            if kind in raw:
                return PackageEntry("hub" if kind == "package" else kind, str(raw[kind]), file)
    return PackageEntry("unknown", repr(raw), file)


def _refusal(entry: PackageEntry, project_dir: Path) -> Finding | None:
    subject = f"package {entry.spec} ({entry.file})"
    if entry.kind == "local":
        target = (project_dir / entry.spec).resolve()
        if not target.is_dir():
            return Finding("refused", subject, "local package not found; fix its path")
        if not target.is_relative_to(project_dir.resolve()):
            return Finding(
                "refused",
                subject,
                "local package outside the project; copy it into the project so the domain "
                "carries everything it builds from",
            )
        return None
    why = {
        "hub": "a dbt Hub package would be downloaded",
        "git": "a git package would be cloned",
        "tarball": "a tarball package would be downloaded",
        "private": "a private git package would be cloned",
        "project": "a dbt Mesh project dependency (cross-project ref); read another domain's "
        "published output port as a source instead",
    }.get(entry.kind, "an entry of an unknown kind")
    return Finding(
        "refused",
        subject,
        f"{why}: nothing is downloaded in the mesh. Vendor the macros you use into the "
        "project's macros/ (or a local package inside it), then import again",
    )

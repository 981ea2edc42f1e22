"""dbt's parsed manifest of a foreign project → a :class:`ProjectSummary`, and what is odd in it.

Pure over the manifest's JSON (no dbt import), so it is tested on a manifest and the reader
stays the one module that runs dbt. "Odd" means a thing the mesh carries only with a decision
from the domain team (a snapshot, a hook, a macro replacing one of dbt's); each becomes a
``reported`` finding, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh_platform.scaffold.dbt_import.summary import (
    ColumnInfo,
    DocsInfo,
    Finding,
    MacroInfo,
    ModelInfo,
    PackageEntry,
    ProjectSummary,
    SeedInfo,
    SourceInfo,
    TestInfo,
    UnitTestInfo,
)

# Packages whose macros are dbt's own (a project macro of the same name replaces them).
BUILTIN_PACKAGES = frozenset({"dbt", "dbt_duckdb", "dbt_postgres", "dbt_spark"})
_GENERATED_KWARGS = frozenset({"column_name", "model"})


def summarize(
    manifest: Mapping[str, Any],
    project: Mapping[str, Any],
    packages: list[PackageEntry],
) -> ProjectSummary:
    """The summary of the project named in ``project`` (its dbt_project.yml as a mapping)."""
    name = project["name"]
    nodes = manifest["nodes"]
    mine = {uid: n for uid, n in nodes.items() if n.get("package_name") == name}
    label = {uid: _label(n) for uid, n in {**nodes, **manifest.get("sources", {})}.items()}
    readers: dict[str, list[str]] = {}
    for node in mine.values():
        if node["resource_type"] == "model":
            for parent in node["depends_on"]["nodes"]:
                readers.setdefault(parent, []).append(node["name"])
    tests = [_test(n, label) for n in mine.values() if n["resource_type"] == "test"]
    summary = ProjectSummary(
        name=name,
        profile=project.get("profile"),
        dbt_version=str(manifest.get("metadata", {}).get("dbt_version", "")),
        models=tuple(
            _model(uid, n, label, [t for t, n2 in tests if n2 == uid])
            for uid, n in sorted(mine.items())
            if n["resource_type"] == "model"
        ),
        seeds=tuple(
            SeedInfo(n["name"], n["original_file_path"], tuple(sorted(readers.get(uid, []))))
            for uid, n in sorted(mine.items())
            if n["resource_type"] == "seed"
        ),
        sources=_sources(manifest, name, readers),
        macros=_macros(manifest, name),
        docs=tuple(
            DocsInfo(d["name"], d["original_file_path"])
            for d in manifest.get("docs", {}).values()
            if d.get("package_name") == name
        ),
        singular_tests=tuple(t for t, attached in tests if t.kind == "singular"),
        unit_tests=tuple(
            UnitTestInfo(u["name"], u["model"], u["original_file_path"])
            for u in manifest.get("unit_tests", {}).values()
            if u.get("package_name") == name
        ),
        packages=tuple(packages),
    )
    summary.findings.extend(oddities(manifest, project, summary))
    return summary


def _label(node: Mapping[str, Any]) -> str:
    if node.get("resource_type") == "source":
        return f"{node['source_name']}.{node['name']}"
    return node["name"]


def _test(node: Mapping[str, Any], label: Mapping[str, str]) -> tuple[TestInfo, str | None]:
    """A test and the unique id of the model it is attached to (None for a singular test)."""
    meta = node.get("test_metadata")
    config = node.get("config") or {}
    attached = node.get("attached_node")
    if not meta:
        test = TestInfo(
            name=node["name"],
            kind="singular",
            column=None,
            severity=str(config.get("severity", "error")).lower(),
            path=node["original_file_path"],
            refers_to=None,
        )
        return test, None
    others = [p for p in node["depends_on"]["nodes"] if p != attached]
    kwargs = {k: v for k, v in (meta.get("kwargs") or {}).items() if k not in _GENERATED_KWARGS}
    test = TestInfo(
        name=node["name"],
        kind=meta["name"],
        column=node.get("column_name"),
        arguments=kwargs,
        namespace=meta.get("namespace"),
        severity=str(config.get("severity", "error")).lower(),
        where=config.get("where"),
        path=node["original_file_path"],
        refers_to=label.get(others[0]) if others else None,
    )
    return test, attached


def _model(
    uid: str, node: Mapping[str, Any], label: Mapping[str, str], tests: list[TestInfo]
) -> ModelInfo:
    config = node.get("config") or {}
    columns = tuple(
        ColumnInfo(
            name=c["name"],
            data_type=c.get("data_type") or None,
            description=(c.get("description") or "").strip(),
            meta={**(c.get("meta") or {}), **((c.get("config") or {}).get("meta") or {})},
            constraints=tuple(x.get("type") for x in c.get("constraints") or []),
        )
        for c in (node.get("columns") or {}).values()
    )
    return ModelInfo(
        name=node["name"],
        path=node["original_file_path"],
        materialized=config.get("materialized", "view"),
        schema=node.get("schema", ""),
        description=(node.get("description") or "").strip(),
        columns=columns,
        tests=tuple(tests),
        depends_on=tuple(label.get(p, p) for p in node["depends_on"]["nodes"]),
        language=node.get("language", "sql"),
        alias="" if node.get("alias") in (None, node["name"]) else node["alias"],
        contract_enforced=bool((config.get("contract") or {}).get("enforced")),
    )


def _sources(
    manifest: Mapping[str, Any], project: str, readers: Mapping[str, list[str]]
) -> tuple[SourceInfo, ...]:
    grouped: dict[str, dict[str, Any]] = {}
    for uid, source in manifest.get("sources", {}).items():
        if source.get("package_name") != project:
            continue
        entry = grouped.setdefault(
            source["source_name"],
            {"tables": [], "path": source["original_file_path"], "read_by": set()},
        )
        entry["tables"].append(source["name"])
        entry["read_by"].update(readers.get(uid, []))
    return tuple(
        SourceInfo(name, tuple(e["tables"]), e["path"], tuple(sorted(e["read_by"])))
        for name, e in sorted(grouped.items())
    )


def _macros(manifest: Mapping[str, Any], project: str) -> tuple[MacroInfo, ...]:
    builtin = {
        m["name"]
        for m in manifest.get("macros", {}).values()
        if m.get("package_name") in BUILTIN_PACKAGES
    }
    return tuple(
        MacroInfo(
            name=m["name"],
            path=m["original_file_path"],
            overrides_builtin=m["name"] in builtin,
            is_generic_test=m["name"].startswith("test_"),
        )
        for m in sorted(manifest.get("macros", {}).values(), key=lambda m: m["name"])
        if m.get("package_name") == project
    )


def oddities(
    manifest: Mapping[str, Any], project: Mapping[str, Any], summary: ProjectSummary
) -> list[Finding]:
    """What the mesh does not carry as it is: each one reported by name."""
    found: list[Finding] = []

    def report(subject: str, detail: str) -> None:
        found.append(Finding("reported", subject, detail))

    for macro in summary.macros:
        if macro.overrides_builtin:
            report(
                f"macro {macro.name}",
                f"replaces dbt's built-in {macro.name} ({macro.path}); kept, and used for the "
                "domain's models: an output port must still be built as marts.<model> in the "
                "domain's database (`mesh lint` names a port it would build elsewhere)",
            )
    for node in manifest["nodes"].values():
        if node.get("package_name") != summary.name:
            continue
        kind = node["resource_type"]
        if kind == "snapshot":
            report(
                f"snapshot {node['name']}",
                "snapshots keep history in the warehouse between runs; carried as a file, "
                "check the domain's runs keep its table",
            )
        elif kind == "analysis":
            report(f"analysis {node['name']}", "not built by dbt; carried as a file only")
        elif kind == "model" and node.get("language") == "python":
            report(f"model {node['name']}", "a Python model: it runs in the domain's process")
        elif kind == "model" and node.get("version") is not None:
            report(f"model {node['name']}", f"a versioned model (v{node['version']})")
    for seed in summary.seeds:
        if not seed.read_by:
            report(f"seed {seed.name}", "no model reads it (a lookup for tests only?)")
    for source in summary.sources:
        if not source.read_by:
            report(
                f"source {source.name}",
                f"declared ({', '.join(source.tables)}) but no model reads it; the domain must "
                "provide its tables before any model does",
            )
        else:
            report(
                f"source {source.name}",
                f"raw input ({', '.join(source.tables)}): the mesh must provide these tables "
                "(an operational source or another domain's port) in the domain's warehouse",
            )
    for key in ("exposures", "metrics", "semantic_models", "saved_queries"):
        for item in (manifest.get(key) or {}).values():
            if item.get("package_name") == summary.name:
                report(f"{key[:-1].replace('_', ' ')} {item['name']}", "carried as YAML only")
    for hook in ("on-run-start", "on-run-end"):
        if project.get(hook):
            report(hook, "project hooks run at every domain run; check they are idempotent")
    if project.get("vars"):
        names = ", ".join(sorted(project["vars"]))
        report("vars", f"project vars ({names}) are carried with dbt_project.yml")
    return found

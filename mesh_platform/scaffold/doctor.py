"""``mesh doctor``: is this machine set up to run the mesh? Each problem says how to fix it."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mesh_platform.core import yaml_io
from mesh_platform.core.environment import TELEMETRY_OFF, MeshEnvironment

# The tools whose version decides how the mesh behaves; they must be the locked ones.
LOCKED_TOOLS = (
    "dagster",
    "dagster-dbt",
    "dagster-webserver",
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "soda-core",
    "soda-duckdb",
)
CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(env: MeshEnvironment) -> list[Check]:
    checks: list[Callable[[MeshEnvironment], Check]] = [
        python_version,
        tool_versions,
        dbt_manifest,
        workspace_entries,
        data_writable,
        port_store_reachable,
        telemetry_env,
        telemetry_dagster_yaml,
        spark_engine,
        chromium,
    ]
    return [check(env) for check in checks]


def python_version(env: MeshEnvironment) -> Check:
    from packaging.specifiers import SpecifierSet

    pyproject = env.repo_root / "pyproject.toml"
    if not pyproject.exists():
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    wanted = tomllib.loads(pyproject.read_text())["project"]["requires-python"]
    have = ".".join(map(str, sys.version_info[:3]))
    ok = have in SpecifierSet(wanted)
    return Check(
        "python",
        ok,
        f"Python {have} (project wants {wanted})",
        "" if ok else "install a matching Python and rerun `make install`",
    )


def _lock_path(env: MeshEnvironment) -> Path:
    lock = env.repo_root / "uv.lock"
    return lock if lock.exists() else Path(__file__).resolve().parents[2] / "uv.lock"


def tool_versions(env: MeshEnvironment) -> Check:
    locked = {
        p["name"]: p["version"]
        for p in tomllib.loads(_lock_path(env).read_text()).get("package", [])
        if "version" in p
    }
    wrong = []
    for tool in LOCKED_TOOLS:
        try:
            have = metadata.version(tool)
        except metadata.PackageNotFoundError:
            have = "missing"
        if tool in locked and have != locked[tool]:
            wrong.append(f"{tool} {have} (lock: {locked[tool]})")
    return Check(
        "tool versions",
        not wrong,
        "; ".join(wrong) or f"{len(LOCKED_TOOLS)} tools match uv.lock",
        "" if not wrong else "run `make install` (uv sync --frozen) to install the locked versions",
    )


def dbt_manifest(env: MeshEnvironment) -> Check:
    from mesh_platform.core.manifest import domain_projects, manifest_path, project_fingerprint

    missing, stale = [], []
    for domain in domain_projects(env):
        project = env.domain_dbt_dir(domain)
        path = manifest_path(project)
        stamp = path.with_name("mesh_fingerprint.txt")
        if not path.exists():
            missing.append(domain)
        elif not (stamp.exists() and stamp.read_text() == project_fingerprint(project)):
            stale.append(domain)
    fresh = not missing and not stale
    detail = "; ".join(
        part
        for part in (
            missing and f"not parsed yet: {', '.join(missing)}",
            stale and f"older than their dbt project (files changed): {', '.join(stale)}",
        )
        if part
    )
    return Check(
        "dbt manifests",
        fresh,
        "every domain's manifest is up to date with its dbt project" if fresh else detail,
        "" if fresh else "run `mesh prepare` (code locations would re-parse at load otherwise)",
    )


def workspace_entries(env: MeshEnvironment) -> Check:
    from mesh_platform.core.domain import discover_domain_dirs

    domains = {d.name for d in discover_domain_dirs(env.domains_dir)}
    file = env.repo_root / "workspace.yaml"
    raw = yaml_io.safe_load(file.read_text()) if file.exists() else {}
    listed = {}
    for entry in (raw or {}).get("load_from") or []:
        fields = next(iter(entry.values())) if isinstance(entry, dict) and entry else {}
        listed[fields.get("location_name")] = fields.get("module_name")
    missing = sorted(domains - set(listed))
    extra = sorted(set(listed) - domains)
    wrong = sorted(d for d in domains & set(listed) if listed[d] != f"domains.{d}.definitions")
    problems = (
        [f"missing {', '.join(missing)}"] * bool(missing)
        + [f"no such domain {', '.join(extra)}"] * bool(extra)
        + [f"wrong module for {', '.join(wrong)}"] * bool(wrong)
    )
    return Check(
        "workspace.yaml",
        not problems,
        "; ".join(problems) or f"one code location per domain ({len(domains)})",
        ""
        if not problems
        else "list each domain as `python_module: {module_name: domains.<d>.definitions, "
        "location_name: <d>, working_directory: .}` (`mesh new domain` does this)",
    )


def data_writable(env: MeshEnvironment) -> Check:
    folders = [
        env.data_dir,
        env.operational_dir,
        env.warehouse_dir,
        env.ports_dir,
        env.dagster_home,
        env.dbt_artifacts_dir,
    ]
    bad = []
    for folder in folders:
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not os.access(existing, os.W_OK | os.X_OK):
            bad.append(str(folder))
    return Check(
        "data folders",
        not bad,
        f"not writable: {', '.join(bad)}" if bad else f"writable under {env.data_dir}",
        "" if not bad else "fix the permissions, or set MESH_DATA_DIR to a writable folder",
    )


def port_store_reachable(env: MeshEnvironment) -> Check:
    """The ports' catalog opens and, on S3, the bucket answers (MESH_PORTS_URI/_CATALOG)."""
    from mesh_platform.ports.location import arrow_filesystem, fs_path, load_catalog, port_store

    try:
        store = port_store(env.ports_dir)
        where = "local path" if store.is_local else "object storage"
        if store.catalog_uri.startswith("sqlite") and not env.ports_dir.exists():
            return Check("ports", True, f"{store.data_uri} ({where}; nothing published yet)")
        load_catalog(store)
        if not store.is_local:
            arrow_filesystem(store).get_file_info(fs_path(store.data_uri))
    except Exception as exc:  # any failure to reach the store is the finding
        return Check(
            "ports",
            False,
            f"the port store cannot be reached: {exc}",
            "check MESH_PORTS_URI, MESH_PORTS_CATALOG and the AWS_* variables (README, Ports)",
        )
    from mesh_platform.ports.migrate import old_ports

    old = old_ports(env.ports_dir)
    if old:
        names = ", ".join(f"{d}.{p} v{v}" for d, p, v, _ in old[:3]) + (
            " …" if len(old) > 3 else ""
        )
        return Check(
            "ports",
            False,
            f"{len(old)} port version(s) in the old snapshot format, invisible to readers: {names}",
            "run `mesh ports migrate` (README, Ports)",
        )
    return Check("ports", True, f"Iceberg tables at {store.data_uri} ({where})")


def telemetry_env(env: MeshEnvironment) -> Check:
    on = [
        f"{k}={os.environ[k]}"
        for k, off in TELEMETRY_OFF.items()
        if k in os.environ and os.environ[k].lower() != off
    ]
    return Check(
        "telemetry (environment)",
        not on,
        f"your environment turns telemetry on: {', '.join(on)}"
        if on
        else "off (the mesh sets it for every tool it runs)",
        ""
        if not on
        else "unset these variables (or `export "
        + " ".join(f"{k}={v}" for k, v in TELEMETRY_OFF.items())
        + "`): tools run outside `mesh` would phone home",
    )


def telemetry_dagster_yaml(env: MeshEnvironment) -> Check:
    files = sorted((env.repo_root / "infra").rglob("dagster*.yaml"))
    on = []
    for file in files:
        raw = yaml_io.safe_load(file.read_text()) or {}
        if (raw.get("telemetry") or {}).get("enabled") is not False:
            on.append(str(file.relative_to(env.repo_root)))
    return Check(
        "telemetry (dagster.yaml)",
        not on,
        f"not disabled in {', '.join(on)}" if on else f"disabled in {len(files)} instance files",
        "" if not on else "add `telemetry: {enabled: false}` to each file named",
    )


def chromium(env: MeshEnvironment) -> Check:
    found = next((p for p in (shutil.which(c) for c in CHROMIUM) if p), None)
    return Check(
        "chromium (browser tests)",
        found is not None,
        found or "not installed",
        "" if found else "run `make browser` (installs Debian's chromium with apt-get)",
    )


def spark_engine(env: MeshEnvironment) -> Check:
    """Which domains build on Spark, and whether this machine can drive a Spark build: the
    `spark` extra (pyspark, dbt-spark) and a Java runtime for the driver."""
    from mesh_platform.core.domain import load_all_domains

    try:
        on_spark = [d.name for d in load_all_domains(env.domains_dir) if d.engine == "spark"]
    except Exception as exc:  # a broken descriptor is the lint's to report in full
        return Check("engines", False, f"could not read the domains: {exc}", "run `mesh lint`")
    missing = [p for p in ("pyspark", "dbt-spark") if not _installed(p)]
    java = shutil.which(
        "java",
        path=os.pathsep.join(
            filter(
                None,
                [
                    os.path.join(os.environ["JAVA_HOME"], "bin")
                    if os.environ.get("JAVA_HOME")
                    else "",
                    os.environ.get("PATH", ""),
                ],
            )
        ),
    )
    if not java:
        missing.append("a Java runtime (java on PATH or JAVA_HOME)")
    master = os.environ.get("MESH_SPARK_MASTER") or "a local cluster started per run"
    where = f"on Spark: {', '.join(on_spark)} ({master})" if on_spark else "every domain on DuckDB"
    if missing:
        detail = f"{where}; Spark cannot run here: missing {', '.join(missing)}"
        return Check(
            "engines",
            not on_spark,  # a problem only when a domain needs Spark
            detail,
            "" if not on_spark else "run `make install` (the `spark` extra) and install Java 17",
        )
    return Check("engines", True, where + "; Spark can run here")


def _installed(package: str) -> bool:
    try:
        metadata.version(package)
    except metadata.PackageNotFoundError:
        return False
    return True

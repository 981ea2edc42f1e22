"""Read a foreign dbt project as dbt itself does, without its profile and without touching it.

The project is copied to a temporary directory and parsed there in process (``dbtRunner``, as
:mod:`mesh_platform.core.manifest` does) against a throwaway DuckDB profile written for the
occasion under the project's own ``profile:`` name, so the user's credentials, warehouse and
``profiles.yml`` are never needed nor read. Packages are judged before dbt runs: a project with a
package that would be downloaded is refused without running ``dbt deps``.

With ``build=True`` the copy's seeds are loaded and its models run with ``--empty`` in that
throwaway DuckDB, so the column types of each model's relation are known even where its YAML
declares none (contract.py says which type came from where). A failed build is reported, not
fatal: the types then come from the YAML only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import yaml

from mesh_platform.core import yaml_io
from mesh_platform.core.environment import temporary_environ
from mesh_platform.scaffold.dbt_import.packages import read_packages
from mesh_platform.scaffold.dbt_import.summarize import summarize
from mesh_platform.scaffold.dbt_import.summary import Finding, ProjectSummary

_NOT_COPIED = shutil.ignore_patterns(
    "target", "dbt_packages", "logs", ".git", ".venv", "__pycache__", "*.duckdb", "*.duckdb.wal"
)
_SCHEMA = "main"


class ImportRefused(RuntimeError):
    """The project cannot be imported; ``findings`` names every reason."""

    def __init__(self, project_dir: Path, findings: list[Finding]):
        self.findings = findings
        reasons = "; ".join(f"{f.subject}: {f.detail}" for f in findings if f.level == "refused")
        super().__init__(f"dbt project {project_dir} cannot be imported: {reasons}")


def read_project(project_dir: Path, build: bool = False) -> ProjectSummary:
    """The typed summary of the dbt project at ``project_dir``; raises :class:`ImportRefused`."""
    project_dir = Path(project_dir).resolve()
    project = _project_file(project_dir)
    packages, findings = read_packages(project_dir)
    if any(f.level == "refused" for f in findings):
        raise ImportRefused(project_dir, findings)
    with tempfile.TemporaryDirectory(prefix="mesh-dbt-import-") as tmp:
        work = Path(tmp) / "project"
        shutil.copytree(project_dir, work, ignore=_NOT_COPIED, symlinks=False)
        _write_throwaway_profile(Path(tmp), project.get("profile") or project["name"])
        runner = _Runner(work, Path(tmp))
        if any(p.carried for p in packages):
            runner.invoke("deps")  # local packages only: nothing is downloaded
        runner.invoke("parse")
        manifest = json.loads((work / "target" / "manifest.json").read_text())
        summary = summarize(manifest, project, packages)
        summary.findings[:0] = findings
        if build:
            _build_relations(runner, summary)
    return summary


def _project_file(project_dir: Path) -> dict:
    path = project_dir / "dbt_project.yml"
    if not path.exists():
        raise ImportRefused(
            project_dir,
            [Finding("refused", "dbt_project.yml", f"no dbt_project.yml in {project_dir}")],
        )
    try:
        project = yaml_io.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        finding = Finding("refused", "dbt_project.yml", f"is not valid YAML: {exc}")
        raise ImportRefused(project_dir, [finding]) from None
    if not isinstance(project, dict) or not project.get("name"):
        finding = Finding("refused", "dbt_project.yml", "has no `name`")
        raise ImportRefused(project_dir, [finding])
    return project


def _write_throwaway_profile(tmp: Path, profile: str) -> None:
    document = {
        profile: {
            "target": "mesh_import",
            "outputs": {
                "mesh_import": {
                    "type": "duckdb",
                    "path": str(tmp / "import.duckdb"),
                    "schema": _SCHEMA,
                    "threads": 1,
                }
            },
        }
    }
    (tmp / "profiles.yml").write_text(yaml.safe_dump(document))


class _Runner:
    """dbt commands on the temporary copy, its artifacts and logs kept inside the copy."""

    def __init__(self, work: Path, tmp: Path):
        self.work, self.tmp = work, tmp

    def invoke(self, command: str, *extra: str) -> None:
        from dbt.cli.main import dbtRunner

        args = [
            command,
            "--project-dir",
            str(self.work),
            "--profiles-dir",
            str(self.tmp),
            "--target",
            "mesh_import",
            "--log-path",
            str(self.tmp / "logs"),
            "--quiet",
            *extra,
        ]
        if command != "deps":
            args[1:1] = ["--target-path", str(self.work / "target")]
        quiet = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PARTIAL_PARSE": "false"}
        with temporary_environ(quiet):
            result = dbtRunner().invoke(args)
        if not result.success:
            detail = result.exception or _last_error(self.tmp / "logs" / "dbt.log")
            raise DbtImportError(f"dbt {command} failed on the imported project: {detail}")


class DbtImportError(RuntimeError):
    """dbt could not parse (or build) the imported project; the message is dbt's."""


def _last_error(log: Path) -> str:
    if not log.exists():
        return "no log written"
    lines = [line for line in log.read_text().splitlines() if "[error]" in line.lower()]
    return lines[-1].strip() if lines else f"see {log}"


def _build_relations(runner: _Runner, summary: ProjectSummary) -> None:
    """Seeds loaded and models run ``--empty`` in the throwaway DuckDB; their column types."""
    try:
        runner.invoke("seed")
        runner.invoke("run", "--empty")
    except DbtImportError as exc:
        summary.findings.append(
            Finding(
                "reported",
                "build",
                f"the project did not build in a throwaway DuckDB ({exc}); column types come "
                "from the YAML only",
            )
        )
    types = _relation_types(runner.tmp / "import.duckdb")
    for model in summary.models:
        model.relation_types.update(types.get((model.schema, model.alias or model.name), {}))
    summary.built = any(m.relation_types for m in summary.models)


def _relation_types(database: Path) -> dict[tuple[str, str], dict[str, str]]:
    import duckdb

    if not database.exists():
        return {}
    out: dict[tuple[str, str], dict[str, str]] = {}
    # dbt-duckdb keeps its connection to the file open in this process: same configuration.
    with duckdb.connect(str(database)) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns order by table_schema, table_name, ordinal_position"
        ).fetchall()
    for schema, table, column, data_type in rows:
        out.setdefault((schema, table), {})[column] = data_type
    return out


__all__ = ["DbtImportError", "ImportRefused", "read_project"]

"""The dbt CLI resource the mesh runs with.

Two costs of dagster-dbt's resource are removed, both paid at every step:

- it asks ``dbt --version`` in a subprocess to learn which dbt it drives (about 3 s, and dbt
  then checks the package index for a newer release). The version is that of the dbt-core
  package installed beside us, so we read it from package metadata instead;
- it starts dbt as a subprocess (about 6.5 s before the first model runs). The command runs in
  this process instead (:mod:`mesh_platform.build.dbt_in_process`); dagster-dbt still selects the
  models, translates the events and reports the result. ``in_process=False`` restores the
  subprocess.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from dagster import get_dagster_logger
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import (
    DBT_INDIRECT_SELECTION_ENV,
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import validate_manifest
from packaging import version
from pydantic import Field

from mesh_platform.build.dbt_in_process import InProcessDbt
from mesh_platform.core.environment import temporary_environ
from mesh_platform.core.manifest import manifest_path
from mesh_platform.core.version_guard import require_tested

require_tested("dagster-dbt", "the in-process dbt resource (mesh_platform/build/dbt_resource.py)")


class MeshDbtCliResource(DbtCliResource):
    in_process: bool = Field(
        default=True,
        description="Run dbt inside the step's process (fast) rather than as a subprocess.",
    )

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(package_version("dbt-core"))

    def cli(
        self,
        args,
        *,
        raise_on_error: bool = True,
        manifest: Any = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: Any = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        """dagster-dbt's ``cli``, with the dbt command run by :class:`InProcessDbt`.

        What it hands dbt is dagster-dbt's own: the context's selection (the same helpers
        ``DbtCliResource.cli`` calls), the target and log paths, profiles and project dirs.
        It does not create dagster-dbt's read-only adapter handle, which only serves
        ``fetch_column_metadata`` (unused here) and would import the adapter in every step.
        """
        if not self.in_process:
            return super().cli(
                args,
                raise_on_error=raise_on_error,
                manifest=manifest,
                dagster_dbt_translator=dagster_dbt_translator,
                context=context,
                target_path=target_path,
            )
        translator = validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator()
        cleaned_args, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=translator,
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project_dir = Path(
            params.dbt_project.project_dir if params.dbt_project else self.project_dir
        )
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        env = {
            "DAGSTER_DBT_CLI": "true",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": os.fspath(target_path),
            "DBT_LOG_PATH": os.fspath(target_path),
            "DBT_PROJECT_DIR": os.fspath(project_dir),
            **({"DBT_PROFILES_DIR": self.profiles_dir} if self.profiles_dir else {}),
            **(
                {DBT_INDIRECT_SELECTION_ENV: params.indirect_selection}
                if params.indirect_selection
                else {}
            ),
        }
        profile_args = [*(["--profile", self.profile] if self.profile else [])]
        profile_args += ["--target", self.target] if self.target else []
        command = [
            self.dbt_executable,
            *self.global_config_flags,
            *cleaned_args,
            *profile_args,
            *params.selection_args,
        ]
        _seed_partial_parse(project_dir, target_path)
        invocation = DbtCliInvocation(
            process=InProcessDbt(command, env),  # type: ignore[arg-type]
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            cli_version=self._cli_version,
            project=params.dbt_project,
            context=context,
        )
        # The line DbtCliInvocation.run logs: it marks where dbt starts in the event log (the
        # "Finished dbt command" line dagster-dbt logs itself), which bench.breakdown reads.
        get_dagster_logger().info(f"Running dbt command: `{invocation.dbt_command}`.")
        return invocation


def _seed_partial_parse(project_dir: Path, target_path: Path) -> None:
    """Start a new target dir from the project's partial-parse cache, as dagster-dbt does.

    ``mesh prepare`` (or the first code location to load) parses the project into
    ``target/``; copying its ``partial_parse.msgpack`` lets a step's first dbt invocation skip
    re-parsing the whole project.
    """
    source = manifest_path(project_dir).with_name(PARTIAL_PARSE_FILE_NAME)
    destination = target_path / PARTIAL_PARSE_FILE_NAME
    if source.exists() and not destination.exists():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)  # this process's mode (umask), not the source's


@contextmanager
def domain_invocation_env(domain: str, extra: dict[str, str]) -> Iterator[None]:
    """Point dbt at one domain's DuckDB file for the duration of an invocation.

    dagster-dbt hands the process environment to dbt; ``profiles.yml`` derives the database
    path from ``MESH_DOMAIN``. Steps of one process run one at a time (in-process executor or
    one subprocess per step), so the swap cannot leak into another domain's invocation.
    """
    with temporary_environ({"MESH_DOMAIN": domain, **extra}):
        yield

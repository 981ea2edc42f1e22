"""``mesh dev``: the Dagster UI on 127.0.0.1 with one code location per domain."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import typer

from mesh_platform.cli.generate import run_generate
from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import prepare_all


def register(app: typer.Typer) -> None:
    @app.command()
    def dev(
        port: int = typer.Option(3000, help="Port of the web UI."),
        host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
    ) -> None:
        """Start `dagster dev` (webserver + daemon) over workspace.yaml."""
        from mesh_platform.build.instance import ensure_dagster_home

        env = apply_tool_env()
        ensure_dagster_home(env)
        if not env.operational_dir.is_dir() or not any(env.operational_dir.iterdir()):
            run_generate(0.05, 42, console())
        prepare_all(env)
        dagster = shutil.which("dagster", path=os.path.dirname(sys.executable))
        if dagster is None:
            raise typer.BadParameter(
                "dagster is not installed in this environment: run make install"
            )
        args = [
            dagster,
            "dev",
            "-w",
            str(env.repo_root / "workspace.yaml"),
            "-h",
            host,
            "-p",
            str(port),
        ]
        console().print(f"Dagster UI on http://{host}:{port} (Ctrl-C to stop)")
        os.chdir(env.repo_root)
        if not _needs_spark_cluster(env):
            os.execv(dagster, args)
        # a domain builds on Spark and no cluster is named: a local one lives as long as the UI
        from mesh_platform.production.spark_cluster import spark_cluster_for

        with spark_cluster_for(env, True) as master:
            console().print(f"Spark domains build on {master}")
            child = subprocess.Popen(args)  # noqa: S603 (the venv's dagster, fixed arguments)
            try:
                child.wait()
            except KeyboardInterrupt:  # Ctrl-C reached dagster dev too: let it stop
                child.wait()


def _needs_spark_cluster(env) -> bool:
    from mesh_platform.core.domain import load_all_domains
    from mesh_platform.production.spark_cluster import MASTER_VARIABLE
    from mesh_platform.run.runner import uses_spark

    if os.environ.get(MASTER_VARIABLE):
        return False
    return uses_spark(load_all_domains(env.domains_dir))

"""``mesh dev``: the Dagster UI on 127.0.0.1 with one code location per domain."""

from __future__ import annotations

import os
import shutil
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
        os.execv(dagster, args)

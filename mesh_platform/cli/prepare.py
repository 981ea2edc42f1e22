"""``mesh prepare``: parse the dbt project once so code locations only read its manifest."""

from __future__ import annotations

import typer

from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import prepare_manifest


def register(app: typer.Typer) -> None:
    @app.command()
    def prepare(force: bool = typer.Option(False, help="Re-parse even if nothing changed.")):
        """Prepare the dbt manifest (re-parsed only when dbt_project/ changed)."""
        env = apply_tool_env()
        path = prepare_manifest(env.dbt_project_dir, force=force)
        console().print(f"dbt manifest ready: {path}")

"""``mesh demo``: generate data, prepare dbt, materialize the whole mesh, print the summary."""

from __future__ import annotations

import typer

from mesh_platform.cli.generate import run_generate
from mesh_platform.cli.materialize import run_materialize
from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import prepare_all


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        scale: float = typer.Option(0.05, help="Size of the generated data (1 ≈ 1M events)."),
        seed: int = typer.Option(42),
    ) -> None:
        """Run the whole mesh end to end on the embedded default."""
        out = console()
        env = apply_tool_env()
        out.print(f"data directory: {env.data_dir}")
        run_generate(scale, seed, out)
        prepare_all(env)
        if not run_materialize(None, out):
            raise typer.Exit(1)

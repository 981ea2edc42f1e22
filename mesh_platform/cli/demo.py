"""``mesh demo``: generate data, prepare dbt, materialize the whole mesh, print the summary."""

from __future__ import annotations

import typer

from mesh_platform.cli.generate import parse_day, run_generate
from mesh_platform.cli.materialize import run_materialize
from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import prepare_all


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        scale: float = typer.Option(0.05, help="Size of the generated data (1 ≈ 1M events)."),
        seed: int = typer.Option(42),
        end: str = typer.Option(
            None, "--end", metavar="YYYY-MM-DD", help="Last day of the data (default: yesterday)."
        ),
    ) -> None:
        """Run the whole mesh end to end on the embedded default."""
        out = console()
        env = apply_tool_env()
        out.print(f"data directory: {env.data_dir}")
        try:
            run_generate(scale, seed, out, end=parse_day(end) if end else None)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        prepare_all(env)
        if not run_materialize(None, out):
            raise typer.Exit(1)

"""``mesh doctor``: check the local set-up and say how to fix each problem (exit 1 if any)."""

from __future__ import annotations

import typer

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor() -> None:
        """Check versions, dbt manifest, workspace entries, data folders, telemetry, chromium."""
        from mesh_platform.scaffold.doctor import run_checks

        out = console()
        checks = run_checks(get_environment())
        for check in checks:
            mark = "[green]✔[/]" if check.ok else "[red]✘[/]"
            out.print(f"{mark} [bold]{check.name}[/]: {check.detail}", highlight=False)
            if check.fix:
                out.print(f"    fix: {check.fix}", highlight=False, markup=False)
        problems = [c for c in checks if not c.ok]
        if problems:
            out.print(f"[red bold]{len(problems)} problem(s)[/] — fix them as shown above")
            raise typer.Exit(1)
        out.print("[green bold]all checks passed[/]")

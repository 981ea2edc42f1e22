"""``mesh redeploy DOMAIN``: restart one domain's code server in a running production stack."""

from __future__ import annotations

from pathlib import Path

import typer

from mesh_platform.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command()
    def redeploy(
        domain: str = typer.Argument(..., help="The domain whose code server to restart."),
        source: Path = typer.Option(
            None,
            "--from",
            help="Serve the domain from this copy of the mesh (default: where it is served "
            "from now, re-reading its code).",
            exists=True,
            file_okay=False,
        ),
        timeout: float = typer.Option(240, help="Seconds to wait for the new code server."),
    ) -> None:
        """Redeploy one domain's code server in the running `mesh serve --production`, with
        its new code; every other process keeps running."""
        from mesh_platform.core.environment import get_environment
        from mesh_platform.production.control import NotServing, request_redeploy

        out = console()
        root = get_environment().data_dir / "production"
        try:
            server = request_redeploy(root, domain, source, timeout)
        except (NotServing, ValueError, TimeoutError) as exc:
            out.print(f"[red]✘[/] {exc}")
            raise typer.Exit(1) from None
        out.print(
            f"[green]✔[/] {domain} redeployed: code server pid {server['pid']} on port "
            f"{server['port']}, serving {server['repo_root']}"
        )

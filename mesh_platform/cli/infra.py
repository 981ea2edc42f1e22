"""``mesh infra``: deployment files generated from the mesh, so they cannot drift from it."""

from __future__ import annotations

import typer

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment
from mesh_platform.production import helm


def register(app: typer.Typer) -> None:
    infra = typer.Typer(
        help="Deployment files generated from the mesh (Helm values for the Dagster chart).",
        no_args_is_help=True,
    )
    app.add_typer(infra, name="infra")

    @infra.command("helm-values")
    def helm_values(
        check: bool = typer.Option(
            False, "--check", help="Only compare with the committed file; exit 1 if it drifted."
        ),
        image: str = typer.Option(
            None, help="Repository of the code image (default: `[tool.mesh] image`)."
        ),
        tag: str = typer.Option(helm.DEFAULT_TAG, help="Tag of the code image (never latest)."),
    ) -> None:
        """Write infra/helm/values.yaml: one user-code deployment per domain in domains/."""
        env = get_environment()
        out = console()
        text = helm.generated_text(env, image, tag)
        target = env.repo_root / helm.VALUES_FILE
        current = target.read_text() if target.exists() else None
        if check:
            if current != text:
                out.print(
                    f"[red]✘[/] {helm.VALUES_FILE} is out of date with domains/ or "
                    f"{helm.INSTANCE_FILE}: run `mesh infra helm-values` and commit the result"
                )
                raise typer.Exit(1)
            out.print(f"[green]✔[/] {helm.VALUES_FILE} matches the domains")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        deployments = helm.helm_values(env, image, tag)["dagster-user-deployments"]["deployments"]
        names = ", ".join(d["name"] for d in deployments)
        out.print(f"wrote {helm.VALUES_FILE}: {len(deployments)} user deployments ({names})")

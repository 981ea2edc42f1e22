"""``mesh infra``: deployment files generated from the mesh, so they cannot drift from it."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment
from mesh_platform.production import helm
from mesh_platform.production.generated import generated_files, stale_files, write_files
from mesh_platform.production.k8s_plan import DEFAULT_TAG


def register(app: typer.Typer) -> None:
    infra = typer.Typer(
        help="Deployment files generated from the mesh (Helm values for the Dagster chart, "
        "the Kubernetes manifests beside them).",
        no_args_is_help=True,
    )
    app.add_typer(infra, name="infra")

    @infra.command("helm-values")
    def helm_values(
        check: bool = typer.Option(
            False, "--check", help="Only compare with the committed files; exit 1 if one drifted."
        ),
        image: str = typer.Option(
            None, help="Repository of the code image (default: `[tool.mesh] image`)."
        ),
        tag: str = typer.Option(DEFAULT_TAG, help="Tag of the code image (never latest)."),
        ports_uri: str = typer.Option(
            None,
            help="Where ports live, s3://BUCKET/PREFIX (default: `[tool.mesh] ports_uri`, "
            "else s3://mesh-ports/ports).",
        ),
        aws_region: str = typer.Option(
            None, help="Region of the object store (default: `[tool.mesh] aws_region`)."
        ),
        aws_endpoint_url: str = typer.Option(
            None, help="Endpoint of an S3-compatible store that is not AWS (e.g. MinIO)."
        ),
        chart: Path = typer.Option(
            None,
            help="Also validate the values against this unpacked official chart "
            "(`helm pull dagster/dagster --version X --untar`; its dagster/ folder).",
            exists=True,
            file_okay=False,
        ),
    ) -> None:
        """Write infra/helm/values.yaml (one user-code deployment per domain in domains/) and
        infra/k8s/ (per-domain volumes, source Jobs, the portal)."""
        if tag == "latest":
            raise typer.BadParameter("pin a tag: runs must use the code their server serves")
        env = get_environment()
        out = console()
        try:
            files = generated_files(
                env,
                image,
                tag,
                ports_uri=ports_uri,
                aws_region=aws_region,
                aws_endpoint_url=aws_endpoint_url,
            )
        except ValueError as exc:
            out.print(f"[red]✘[/] {exc}")
            raise typer.Exit(2) from None
        if chart is not None:
            _check_chart(files[helm.VALUES_FILE], chart, out)
        if check:
            stale = stale_files(env.repo_root, files)
            if stale:
                names = ", ".join(str(p) for p in stale)
                out.print(
                    f"[red]✘[/] {names} out of date with domains/ or {helm.INSTANCE_FILE}: "
                    "run `mesh infra helm-values` and commit the result"
                )
                raise typer.Exit(1)
            out.print(f"[green]✔[/] {len(files)} deployment files match the domains")
            return
        write_files(env.repo_root, files)
        deployments = helm.helm_values(env, image, tag)["dagster-user-deployments"]["deployments"]
        names = ", ".join(d["name"] for d in deployments)
        out.print(f"wrote {helm.VALUES_FILE}: {len(deployments)} user deployments ({names})")
        for path in files:
            if path != helm.VALUES_FILE:
                out.print(f"wrote {path}")


def _check_chart(values_text: str, chart: Path, out) -> None:
    """Exit 1 listing what the official chart's schema refuses in the values."""
    from mesh_platform.production import chart_schema

    errors = chart_schema.chart_errors(yaml.safe_load(values_text), chart)
    version = chart_schema.chart_version(chart)
    if errors:
        out.print(f"[red]✘[/] the Dagster chart {version} refuses the values:")
        for error in errors:
            out.print(f"  {error}")
        raise typer.Exit(1)
    out.print(f"[green]✔[/] the values pass the schema of the Dagster chart {version}")

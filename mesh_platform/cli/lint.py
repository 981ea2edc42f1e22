"""``mesh lint``: evaluate the mesh's global policies; exit 1 when any error-level one fails."""

from __future__ import annotations

import json
from enum import StrEnum

import typer
from rich.table import Table

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    @app.command()
    def lint(
        domains: list[str] = typer.Argument(None, help="Domains to lint (default: all)."),
        output: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
        published: bool = typer.Option(
            True,
            "--published/--no-published",
            help="Also compare ports with what is published in the data directory "
            "(breaking changes, retired majors).",
        ),
    ) -> None:
        """Check every product against the policies in governance/ (CI runs this)."""
        from mesh_platform.governance.compliance import compliance_summary
        from mesh_platform.governance.engine import evaluate_mesh

        report = evaluate_mesh(get_environment(), domains or None, include_published=published)
        if output is Format.JSON:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            _print(report, compliance_summary(report))
        if report.errors:
            raise typer.Exit(1)


def _print(report, summary) -> None:
    out = console()
    for f in report.findings:
        mark = "[red]✘ error[/]" if f.is_error else "[yellow]! warning[/]"
        field = f" — field `{f.field}`" if f.field else ""
        out.print(f"{mark}  [bold]{f.policy}[/]  {f.where}{field}", highlight=False)
        out.print(f"    {f.message}", highlight=False, markup=False)
        out.print(f"    fix: {f.fix}", highlight=False, markup=False)
    table = Table(title="Compliance per domain")
    for col in ("domain", "score", "compliant products", "failing policies"):
        table.add_column(col)
    for d in summary["domains"]:
        table.add_row(
            d["domain"],
            f"{d['score']:.0f}%",
            f"{d['compliant_products']}/{d['products']}",
            ", ".join(d["failing_policies"]) or "—",
        )
    out.print(table)
    errors = len(report.errors)
    warnings = len(report.findings) - errors
    products = len(report.products)
    verdict = "[red]✘ not compliant[/]" if errors else "[green]✔ compliant[/]"
    out.print(
        f"{verdict}: {products} products, {len(report.policies)} policies, "
        f"{errors} errors, {warnings} warnings"
    )

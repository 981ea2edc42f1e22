"""``mesh prepare``: parse the domains' dbt projects once so code locations only read manifests."""

from __future__ import annotations

import time

import typer

from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import domain_projects, prepare_manifest


def register(app: typer.Typer) -> None:
    @app.command()
    def prepare(
        domains: list[str] = typer.Argument(None, help="Domains to prepare (default: all)."),
        force: bool = typer.Option(False, help="Re-parse even if nothing changed."),
    ):
        """Prepare each domain's dbt manifest (a project is re-parsed only when it changed)."""
        env = apply_tool_env()
        known = domain_projects(env)
        unknown = sorted(set(domains or []) - set(known))
        if unknown:
            raise typer.BadParameter(
                f"no dbt project for domain(s) {', '.join(unknown)} under {env.dbt_project_dir}; "
                f"domains with one: {', '.join(known)}"
            )
        for domain in domains or known:
            started = time.perf_counter()
            path = prepare_manifest(env.domain_dbt_dir(domain), force=force)
            took = time.perf_counter() - started
            console().print(f"{domain}: dbt manifest ready ({took:.1f} s): {path}")

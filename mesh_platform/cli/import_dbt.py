"""``mesh import dbt PATH``: bring an existing dbt project into the mesh as a new domain.

With every flag given it runs unattended; on a terminal, what is missing is asked (which models
become ports, the owner team and contact, members). ``--dry-run`` prints the report, the files
and the diff, writing nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from mesh_platform.cli.new import DRY_RUN, ask, finish, interactive
from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env

import_app = typer.Typer(help="Bring existing work into the mesh.", no_args_is_help=True)


@import_app.command("dbt")
def import_dbt(
    path: Path = typer.Argument(..., help="The dbt project's folder (with its dbt_project.yml)."),
    domain: str = typer.Option(None, "--domain", help="The new domain's name, snake_case."),
    owner: str = typer.Option(None, "--owner", help="Owner team, e.g. shop-team."),
    contact: str = typer.Option(None, "--contact", help="The team's company mailbox."),
    port: list[str] = typer.Option(
        None, "--port", help="A model that becomes a data product with an output port (repeat)."
    ),
    member: list[str] = typer.Option(
        None, "--member", help="A user of the owner team (repeat): reads in full, approves."
    ),
    description: str = typer.Option(None, "--description", help="What the domain is."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Import a dbt project as a domain: its models, macros, seeds, tests and docs as they are;
    each --port model a governed data product with a Soda contract from its YAML tests."""
    from mesh_platform.governance.config import load_governance
    from mesh_platform.scaffold.dbt_import.place import ImportOptions, plan_import_dbt

    env = apply_tool_env()
    out = console()
    domain = ask(domain, "--domain NAME", "Domain name (snake_case)")
    owner = ask(owner, "--owner TEAM", "Owner team", f"{domain.replace('_', '-')}-team")
    company = load_governance(env.governance_dir).teams.contact_domains
    contact = ask(
        contact,
        "--contact EMAIL",
        "Team contact e-mail",
        f"{domain.replace('_', '-')}@{company[0]}",
    )
    ports = list(port or [])
    if not ports and interactive():
        answer = typer.prompt("Models that become output ports (comma-separated)")
        ports = [p.strip() for p in answer.split(",") if p.strip()]
    members = list(member or [])
    if not members and interactive():
        answer = typer.prompt("Members of the owner team (user names, comma-separated)", default="")
        members = [m.strip() for m in answer.split(",") if m.strip()]
    started = time.perf_counter()
    options = ImportOptions(domain, owner, contact, ports, members, description or "")
    result = plan_import_dbt(env, path, options)
    out.print(result.report.render(), highlight=False, markup=False)
    finish(result.plan, dry_run)
    if not dry_run:
        took = time.perf_counter() - started
        out.print(f"imported dbt project {result.summary.name} as domain {domain} in {took:.0f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

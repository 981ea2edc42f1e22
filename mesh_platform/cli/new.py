"""``mesh new domain|product|sync``: scaffold a governed domain or data product.

With every flag given it runs unattended (scripts, CI); when a flag is missing and stdin is a
terminal it asks, with defaults. ``--dry-run`` prints the files and the diff, writing nothing.
"""

from __future__ import annotations

import sys

import typer

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment

new_app = typer.Typer(
    help="Scaffold a new domain or data product, governed from the first minute.",
    no_args_is_help=True,
)

DRY_RUN = typer.Option(False, "--dry-run", help="Show the files and the diff; write nothing.")


def interactive() -> bool:
    return sys.stdin.isatty()


def ask(value: str | None, flag: str, question: str, default: str | None = None) -> str:
    """The flag's value, else a prompt on a terminal, else a clear error (exit 2)."""
    if value:
        return value
    if interactive():
        return typer.prompt(question, default=default)
    if default is not None:
        return default
    from mesh_platform.scaffold.plan import ScaffoldError

    raise ScaffoldError(f"missing {flag}: give it on the command line (no terminal to ask on)")


def finish(plan, dry_run: bool) -> None:
    """Print what the plan writes; apply it unless this is a dry run."""
    out = console()
    if not plan.changes:
        out.print("nothing to change")
        return
    if dry_run:
        out.print("[bold]dry run[/] — would write (nothing written):", highlight=False)
    for line in plan.summary():
        out.print(f"  {line}", highlight=False, markup=False)
    if dry_run:
        typer.echo(plan.diff())
        return
    plan.apply()
    for note in plan.notes:
        out.print(f"[green]✔[/] {note}" if note.startswith("registered") else f"→ {note}")


@new_app.command("domain")
def new_domain(
    name: str = typer.Argument(None, help="Domain name, snake_case (e.g. merch)."),
    owner: str = typer.Option(None, "--owner", help="Owner team, e.g. merch-team."),
    contact: str = typer.Option(None, "--contact", help="The team's company mailbox."),
    description: str = typer.Option(None, "--description", help="What the domain is."),
    member: list[str] = typer.Option(
        None,
        "--member",
        metavar="USER",
        help="A member of the owner team (repeatable): reads its products in full and decides "
        "access requests. A user not in governance/access/users.yaml is added there.",
    ),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="What builds the domain's models: duckdb (embedded, the default) or spark "
        "(a cluster; see README, Engines).",
    ),
    dry_run: bool = DRY_RUN,
) -> None:
    """Create a domain: code location, dbt folder (group, access), workspace entry, team,
    members, test."""
    from mesh_platform.governance.config import load_governance
    from mesh_platform.scaffold.domain import plan_new_domain

    env = get_environment()
    name = ask(name, "NAME", "Domain name (snake_case)")
    owner = ask(owner, "--owner TEAM", "Owner team", f"{name.replace('_', '-')}-team")
    company = load_governance(env.governance_dir).teams.contact_domains
    contact = ask(
        contact, "--contact EMAIL", "Team contact e-mail", f"{name.replace('_', '-')}@{company[0]}"
    )
    if description is None and interactive():
        description = typer.prompt("Description (what the domain is)", default="")
    plan = plan_new_domain(
        env, name, owner, contact, description or "", members=member or (), engine=engine
    )
    finish(plan, dry_run)


@new_app.command("product")
def new_product(
    domain: str = typer.Argument(None, help="The domain that owns the product."),
    name: str = typer.Argument(None, help="Product (and output port) name, snake_case."),
    from_port: list[str] = typer.Option(
        None,
        "--from-port",
        help="Read another domain's output port, e.g. sales.orders; repeat for several.",
    ),
    source_specs: list[str] = typer.Option(
        None,
        "--source",
        help="Read an operational source: [SYSTEM.TABLE=]KIND:PATH (files, e.g. "
        "file_drop:merch/orders/*.csv) or [SYSTEM=]database:CONNECTION.TABLE; repeat for several.",
    ),
    source_kind: str = typer.Option(
        None,
        "--source-kind",
        help="Read one operational source: file_drop, api, event_stream or database "
        "(with --path or --connection, --system, --table).",
    ),
    path: str = typer.Option(
        None,
        "--path",
        help="Files of the source, relative to the operational data directory "
        "(globs allowed), e.g. merch/orders/*.csv.",
    ),
    connection: str = typer.Option(
        None, "--connection", help="database: the connection (plugin alias in profiles.yml)."
    ),
    system: str = typer.Option(
        None, "--system", help="Operational system name (dbt source); default from --path."
    ),
    table: str = typer.Option(None, "--table", help="Source table name; default from --path."),
    description: str = typer.Option(None, "--description", help="What one row is, and for whom."),
    eager: bool = typer.Option(
        None,
        "--eager/--schedule",
        help="Follow the upstream port (default for --from-port) or "
        "run on --cron (default for sources).",
    ),
    cron: str = typer.Option("0 4 * * *", "--cron", help="Schedule of a scheduled product."),
    freshness_hours: float = typer.Option(26, "--freshness-hours", help="Freshness SLO."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Create a product from operational sources and/or other domains' ports (wired lineage)."""
    from mesh_platform.core.domain import discover_domain_dirs
    from mesh_platform.scaffold.product import ProductOptions, plan_new_product
    from mesh_platform.scaffold.sources import (
        OperationalSource,
        default_system,
        default_table,
        parse_source,
    )

    env = get_environment()
    domains = [d.name for d in discover_domain_dirs(env.domains_dir)]
    domain = ask(domain, "DOMAIN", f"Domain ({', '.join(domains)})")
    name = ask(name, "NAME", "Product name (snake_case)")
    from_ports = list(from_port or [])
    sources = [parse_source(spec) for spec in source_specs or []]
    if not from_ports and not sources and not source_kind and interactive():
        kind = typer.prompt(
            "Input: an output port of another domain, or an operational source",
            type=typer.Choice(["port", "file_drop", "api", "event_stream", "database"]),
            default="port",
        )
        if kind == "port":
            from_ports = [ask(None, "--from-port", "Upstream port address (see `mesh products`)")]
        else:
            source_kind = kind
    if source_kind:
        if source_kind == "database":
            connection = ask(connection, "--connection", "Database connection (profiles.yml)")
            table = ask(table, "--table", "Table")
            system = ask(system, "--system", "Operational system name", connection)
        else:
            path = ask(path, "--path", "Files, relative to the operational data directory")
            system = ask(system, "--system", "Operational system name", default_system(path))
            table = ask(table, "--table", "Source table name", default_table(path))
        sources.append(OperationalSource(source_kind, system, table, path, connection))
    if description is None and interactive():
        description = typer.prompt("Description (what one row is, for whom)", default="")
    options = ProductOptions(description or "", eager, cron, freshness_hours)
    plan = plan_new_product(env, domain, name, from_ports, sources, options)
    finish(plan, dry_run)


@new_app.command("sync")
def sync(
    domain: str = typer.Argument(..., help="The product's domain."),
    name: str = typer.Argument(..., help="The product."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Re-derive a product's model YAML and Soda contract from its output-port SQL."""
    from mesh_platform.scaffold.product import plan_sync

    finish(plan_sync(get_environment(), domain, name), dry_run)


def register(app: typer.Typer) -> None:
    app.add_typer(new_app, name="new")

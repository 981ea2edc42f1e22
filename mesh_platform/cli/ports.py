"""``mesh ports``: the port store — snapshot history (time travel's choices) and migration."""

from __future__ import annotations

import typer
from rich.table import Table

from mesh_platform.cli.output import console
from mesh_platform.core.address import PortAddress
from mesh_platform.core.environment import get_environment


def register(app: typer.Typer) -> None:
    ports = typer.Typer(
        help="The published ports' Iceberg tables: snapshot history and migration.",
        no_args_is_help=True,
    )
    app.add_typer(ports, name="ports")

    @ports.command("history")
    def history(
        address: str = typer.Argument(..., help="domain.port, e.g. sales.orders"),
        version: int = typer.Option(1, "--version", "-v", min=1, help="Major version."),
    ) -> None:
        """The kept snapshots of a port version, oldest first (for --as-of / --snapshot)."""
        from mesh_platform.ports.store import snapshot_history

        parsed = PortAddress.parse(address)
        kept = snapshot_history(get_environment().ports_dir, parsed.domain, parsed.port, version)
        if not kept:
            console().print(f"{address} v{version} has no snapshot: it was never published")
            raise typer.Exit(1)
        table = Table(title=f"{address} v{version}: kept snapshots (newest last)")
        for col in ("snapshot", "published at", "rows", "run", "checksum"):
            table.add_column(col)
        for p in kept:
            table.add_row(
                p.snapshot_id, p.published_at[:19], f"{p.rows:,}", p.run_id or "", p.checksum
            )
        console().print(table)

    @ports.command("migrate")
    def migrate() -> None:
        """Convert the data dir's ports of the old snapshot format into Iceberg tables.

        Each port version's current snapshot becomes its table's first snapshot (checked by
        content checksum); addresses and versions are unchanged. The old files move to
        <port>/v<N>/legacy/ — delete them once you have checked the result."""
        from mesh_platform.ports.migrate import migrate_ports
        from mesh_platform.ports.views_file import refresh_views_file

        env = get_environment()
        out = console()
        results = migrate_ports(env.ports_dir)
        if not results:
            out.print(f"nothing to migrate under {env.ports_dir}: no port of the old format")
            return
        for r in results:
            mark = {"migrated": "[green]✔[/]", "already-migrated": "·"}.get(r.status, "[red]✘[/]")
            rows = f": {r.rows:,} rows" if r.status == "migrated" else ""
            out.print(f"{mark} {r.address} v{r.version} {r.status}{rows} {r.detail}".rstrip())
        refresh_views_file(env.ports_dir)
        if any(r.status == "failed" for r in results):
            raise typer.Exit(1)
        out.print(
            "old files kept under <port>/v<N>/legacy/ in "
            f"{env.ports_dir}: delete them once you have checked the ports"
        )

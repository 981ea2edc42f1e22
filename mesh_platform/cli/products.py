"""``mesh products``: what is published now — address, version, rows, snapshot, time."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment
from mesh_platform.ports.store import list_published


def register(app: typer.Typer) -> None:
    @app.command()
    def products(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
        """List every published output port."""
        env = get_environment()
        published = list_published(env.ports_dir)
        if as_json:
            typer.echo(json.dumps([p.to_json() for p in published], indent=2))
            return
        table = Table(title=f"Published output ports ({env.ports_dir})")
        for col in ("address", "version", "rows", "snapshot", "published at", "Iceberg table"):
            table.add_column(col)
        for p in published:
            table.add_row(
                p.address,
                f"v{p.version}",
                f"{p.rows:,}",
                p.snapshot_id,
                p.published_at[:19],
                f"{p.table} at {p.path}",
            )
        console().print(table)
        if not published:
            console().print("nothing published yet: run `make demo` or `mesh materialize`")

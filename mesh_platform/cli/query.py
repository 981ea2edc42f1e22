"""``mesh query``: SQL over the published output ports (never over pipeline databases)."""

from __future__ import annotations

import duckdb
import typer

from mesh_platform.consume import connect


def register(app: typer.Typer) -> None:
    @app.command()
    def query(
        sql: str = typer.Argument(..., help='e.g. "select * from playback.daily_track_plays"'),
        limit: int = typer.Option(20, help="Rows to print."),
    ) -> None:
        """Run SQL over published ports; each is a view named <domain>.<port>."""
        con = connect()
        try:
            frame = con.execute(sql).df()
        except duckdb.Error as exc:
            typer.echo(f"query failed: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(frame.head(limit).to_string(index=False))
        if len(frame) > limit:
            typer.echo(f"… {len(frame) - limit:,} more rows (use --limit)")

"""``mesh query``: read-only SQL over the published ports a user may read (audited)."""

from __future__ import annotations

import os
import sys

import typer

FORMATS = ("table", "csv", "json")


def register(app: typer.Typer) -> None:
    @app.command()
    def query(
        sql: str = typer.Argument(..., help='e.g. "select * from sales.orders"'),
        user: str = typer.Option(None, "--as", help="Who is asking (default: $MESH_USER)."),
        limit: int = typer.Option(20, min=1, help="Rows to print (table format)."),
        fmt: str = typer.Option(
            "table", "--format", help="table | csv | json (csv/json print every row)."
        ),
    ) -> None:
        """Run one query over the ports you may read; each is a view <domain>.<port>.

        Writes, ATTACH, extension loading and file reads are refused; columns holding personal
        data are NULL unless your grant covers them; every query is audited.
        """
        from mesh_platform.access.service import AccessService

        if fmt not in FORMATS:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
        with AccessService().connect(user or os.environ.get("MESH_USER"), channel="cli") as con:
            frame = con.df(sql)
            hidden = sorted(
                {c for cols in con.hidden_columns.values() for c in cols if c in frame.columns}
            )
        if fmt == "csv":
            frame.to_csv(sys.stdout, index=False)
        elif fmt == "json":
            typer.echo(frame.to_json(orient="records", date_format="iso"))
        else:
            typer.echo(frame.head(limit).to_string(index=False))
            if len(frame) > limit:
                typer.echo(f"… {len(frame) - limit:,} more rows (use --limit)")
        if hidden:
            typer.echo(
                f"personal data hidden (NULL) in: {', '.join(hidden)} — request a grant with --pii",
                err=True,
            )

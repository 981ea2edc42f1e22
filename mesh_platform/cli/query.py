"""``mesh query``: read-only SQL over the published ports a user may read (audited)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "csv", "json")
HIDDEN = "‹hidden›"  # a personal-data column the user's grant does not cover
NULL = "NULL"


def parse_as_of(text: str) -> datetime:
    """An ISO time; without a zone it is UTC."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"--as-of {text!r} is not an ISO time: e.g. 2026-12-01 or 2026-12-01T09:30:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_pins(pins: list[str]) -> dict[str, str]:
    """``ADDRESS=SNAPSHOT_ID`` pairs."""
    found = {}
    for pin in pins:
        address, sep, snapshot_id = pin.partition("=")
        if not sep or not snapshot_id.strip().isdigit() or "." not in address:
            raise typer.BadParameter(
                f"--snapshot {pin!r}: write ADDRESS=ID, e.g. sales.orders=123456789 "
                "(ids: `mesh products`)"
            )
        found[address.strip()] = snapshot_id.strip()
    return found


def readable_table(frame: pd.DataFrame, hidden: list[str]) -> pd.DataFrame:
    """The frame as printed: a column hidden as personal data shows ``HIDDEN`` in every row,
    any other missing value ``NULL`` (never pandas' ``NaN``/``None``/``<NA>``)."""
    frame = frame.convert_dtypes()
    shown = frame.astype(object).where(frame.notna(), NULL)
    for column in hidden:
        if column in shown.columns:
            shown[column] = HIDDEN
    return shown


def register(app: typer.Typer) -> None:
    @app.command()
    def query(
        sql: str = typer.Argument(..., help='e.g. "select * from sales.orders"'),
        user: str = typer.Option(None, "--as", help="Who is asking (default: $MESH_USER)."),
        limit: int = typer.Option(20, min=1, help="Rows to print (table format)."),
        fmt: str = typer.Option(
            "table",
            "--format",
            help="table | csv | json (csv/json print every row, up to $MESH_QUERY_MAX_ROWS).",
        ),
        as_of: str = typer.Option(
            None,
            "--as-of",
            help="Read every port as it was at this time (ISO, e.g. 2026-12-01T09:00Z; "
            "UTC if no zone). Ports keep their newest 5 snapshots.",
        ),
        snapshot: list[str] = typer.Option(
            None,
            "--snapshot",
            help="Pin a port to one snapshot: ADDRESS=ID (ids: `mesh products`); repeatable.",
        ),
    ) -> None:
        """Run one query over the ports you may read; each is a view <domain>.<port>.

        Writes, ATTACH, extension loading and file reads are refused; columns holding personal
        data are NULL unless your grant covers them; every query is audited. A query stops after
        $MESH_QUERY_TIMEOUT_S seconds (default 60) or past $MESH_QUERY_MEMORY_LIMIT (1GB).
        """
        from mesh_platform.access.service import AccessService
        from mesh_platform.cli.identity import cli_user

        if fmt not in FORMATS:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
        pinned = parse_pins(snapshot or [])
        when = parse_as_of(as_of) if as_of else None
        with AccessService().connect(
            cli_user(user), channel="cli", as_of=when, snapshots=pinned
        ) as con:
            # the table shows `limit` rows: only one more is fetched, to know there are more
            result = con.run(sql, max_rows=limit if fmt == "table" else None)
            frame = result.table.to_pandas()
            hidden = sorted(
                {c for cols in con.hidden_columns.values() for c in cols if c in frame.columns}
            )
            max_rows = con.limits.max_rows
            catalog = con._service.catalog
            products = {
                product.key: product
                for product in (catalog.product_of_port(p.split(" ")[0]) for p in result.ports)
            }
        if fmt == "csv":
            frame.to_csv(sys.stdout, index=False)
        elif fmt == "json":
            typer.echo(frame.to_json(orient="records", date_format="iso"))
        else:
            typer.echo(readable_table(frame, hidden).to_string(index=False))
            if result.truncated:
                typer.echo(f"… more rows (use --limit, up to {max_rows:,})")
        if result.truncated and fmt != "table":
            typer.echo(
                f"output stopped at {max_rows:,} rows (MESH_QUERY_MAX_ROWS): add a LIMIT, "
                "filter or aggregate",
                err=True,
            )
        if hidden:
            shown = f"{HIDDEN} in the table" if fmt == "table" else "NULL"
            typer.echo(
                f"personal data hidden ({shown}) in: {', '.join(hidden)} — request a grant "
                "with --pii (`mesh catalog show DOMAIN.PRODUCT --as YOU` prints the command)",
                err=True,
            )
        for _, product in sorted(products.items()):
            for caveat in product.caveats:
                typer.echo(f"caveat of {product.key}: {caveat}", err=True)

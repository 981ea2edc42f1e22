"""``mesh contract``: output-port contracts in an open standard, for tools outside the mesh.

``mesh contract export`` writes one Open Data Contract Standard (ODCS v3) file per output
port, validated against the official schema first: an invalid document is never written.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment

contract_app = typer.Typer(
    help="Output-port contracts as open standards (ODCS v3).", no_args_is_help=True
)


@contract_app.command("export")
def export(
    addresses: list[str] = typer.Argument(
        None, help="Ports to export: <domain>.<port> or <domain>.<port>.v<N> (default: all)."
    ),
    out: Path = typer.Option(
        None, "--out", help="Directory to write to (default: <data dir>/contracts/odcs/)."
    ),
) -> None:
    """Write each output port's contract as <domain>.<port>.v<N>.odcs.yaml (ODCS v3)."""
    from mesh_platform.interchange.odcs import export_all, to_yaml

    env = get_environment()
    exported = export_all(env)
    if addresses:
        known = {e.address for e in exported} | {e.contract_id for e in exported}
        unknown = [a for a in addresses if a not in known]
        if unknown:
            typer.echo(
                f"error: unknown output port(s) {', '.join(unknown)}. Known ports: "
                + ", ".join(sorted({e.address for e in exported}))
                + " (add .v<N> for one major version).",
                err=True,
            )
            raise typer.Exit(2)
        wanted = set(addresses)
        exported = [e for e in exported if e.address in wanted or e.contract_id in wanted]
    out_dir = (out or env.data_dir / "contracts" / "odcs").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    table = Table(title=f"ODCS contracts ({out_dir})")
    for col in ("contract id", "status", "columns", "quality rules", "file"):
        table.add_column(col)
    for e in exported:
        obj = e.document["schema"][0]
        rules = len(obj.get("quality", [])) + sum(
            len(p.get("quality", [])) for p in obj["properties"]
        )
        if e.errors:
            table.add_row(e.contract_id, "[red]invalid, not written[/]", "", "", "")
            continue
        path = out_dir / e.file_name
        _write_atomic(path, to_yaml(e.document))
        table.add_row(
            e.contract_id, e.document["status"], str(len(obj["properties"])), str(rules), str(path)
        )
    console().print(table)
    invalid = [e for e in exported if e.errors]
    for e in invalid:
        console().print(f"[red bold]{e.address} v{e.version}[/]: ODCS validation failed:")
        for error in e.errors:
            console().print(f"  - {error}", markup=False)
    if invalid:
        console().print(
            "Fix the port's descriptor, dbt model YAML or Soda contract that the path points "
            "at (mapping in mesh_platform/interchange/odcs.py), then export again."
        )
        raise typer.Exit(1)


def _write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it: readers never see half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    app.add_typer(contract_app, name="contract")

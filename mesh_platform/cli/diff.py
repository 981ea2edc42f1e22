"""``mesh diff``: what changed in the output ports' schemas, whether it breaks, and for whom.

A domain engineer runs it before merging: every change of a port's declared schema, against
the last published one (default) or a git revision, is classified breaking or not, with the
downstream consumers across the mesh it would reach. Exit code 1 means a breaking change
inside one major version (or a major retired before its deprecation date) — what CI blocks.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from mesh_platform.cli.output import console
from mesh_platform.core.declared_schema import declared_port_schemas, declared_port_schemas_at
from mesh_platform.core.descriptor import DescriptorError
from mesh_platform.core.environment import get_environment
from mesh_platform.governance.versioning import (
    NEW_PORT,
    NO_BASELINE_SCHEMA,
    RETIRED_EARLY_STATUS,
    UNCHANGED,
    PortComparison,
    compare_declarations,
    published_baseline,
    with_consumers,
)

_CELL = 60


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def _short(text: str | None) -> str:
    text = text or "-"
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _detailed(c: PortComparison) -> bool:
    """Shown in full (changes and consumers): anything but unchanged or without a baseline."""
    return c.status not in (UNCHANGED, NEW_PORT, NO_BASELINE_SCHEMA)


def _headline(c: PortComparison) -> str:
    base = f" (baseline v{c.baseline_version})" if c.baseline_version else ""
    if c.status == RETIRED_EARLY_STATUS:
        verdict = "[red bold]no longer declared before its deprecation date[/]"
    elif c.violation:
        verdict = "[red bold]BREAKING without a major-version bump[/]"
    else:
        verdict = "[green]ok[/]"
    return f"[bold]{c.address} v{c.version}[/] — {c.status.replace('_', ' ')}{base} — {verdict}"


def _print_table(comparisons: list[PortComparison], baseline_label: str) -> None:
    out = console()
    out.print(f"Output-port schemas compared with {escape(baseline_label)}")
    shown = [c for c in comparisons if _detailed(c)]
    for c in shown:
        out.print()
        out.print(_headline(c))
        if c.deprecation_date:
            out.print(f"  deprecation date: {c.deprecation_date}")
        elif c.status == RETIRED_EARLY_STATUS:
            out.print("  deprecation date: none recorded")
        if c.changes:
            table = Table(show_edge=False, pad_edge=False)
            for col in ("change", "column", "old", "new", "breaking"):
                table.add_column(col)
            for ch in c.changes:
                table.add_row(
                    ch.kind,
                    ch.column or "(grain)",
                    escape(_short(ch.old)),
                    escape(_short(ch.new)),
                    "[red]breaking[/]" if ch.breaking else "non-breaking",
                )
            out.print(table)
        if c.consumers:
            out.print("  downstream consumers:")
            for consumer in c.consumers:
                out.print(f"    - {escape(consumer.label)}")
        elif c.changes or c.violation:
            out.print("  downstream consumers: none found in the mesh")
    for status, what in (
        (NEW_PORT, "no baseline (not published yet / new port)"),
        (NO_BASELINE_SCHEMA, "published without a recorded schema (republish to record it)"),
    ):
        listed = [f"{c.address} v{c.version}" for c in comparisons if c.status == status]
        if listed:
            out.print()
            out.print(f"{what}: " + ", ".join(listed))
    unchanged = sum(c.status == UNCHANGED for c in comparisons)
    violations = [c for c in comparisons if c.violation]
    out.print()
    out.print(
        f"{len(comparisons)} port versions: {unchanged} unchanged, {len(shown)} with "
        f"differences, {len(violations)} violating the versioning policy"
    )
    if violations:
        out.print(
            "Fix: publish a breaking change as a new major — a new `output_ports` entry with "
            "`version: N+1` and its own model — and keep the previous major declared with a "
            "`deprecation_date` until its consumers moved."
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def diff(
        addresses: list[str] = typer.Argument(
            None, help="Ports to compare, as <domain>.<port> (default: all)."
        ),
        against: str | None = typer.Option(
            None,
            "--against",
            metavar="REV",
            help="Compare with the declaration at this git revision instead of the last "
            "published schemas.",
        ),
        output_format: Format = typer.Option(
            Format.TABLE, "--format", help="table or json.", case_sensitive=False
        ),
        repo_root: Path | None = typer.Option(None, "--repo-root", hidden=True),
    ) -> None:
        """Classify output-port schema changes as breaking or not, and list their consumers."""
        env = get_environment()
        root = (repo_root or env.repo_root).resolve()
        try:
            declared = declared_port_schemas(root)
            if against:
                baseline = declared_port_schemas_at(root, against)
                label = f"git revision {against}"
            else:
                baseline = published_baseline(env.ports_dir)
                label = f"the last published schemas ({env.ports_dir})"
        except (DescriptorError, ValueError) as exc:
            console().print(f"[red bold]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        known = sorted({a for a, _ in declared} | {a for a, _ in baseline})
        unknown = sorted(set(addresses or ()) - set(known))
        if unknown:
            console().print(
                f"[red bold]error:[/] unknown port address(es) {unknown}; known ports: "
                + ", ".join(known)
            )
            raise typer.Exit(2)
        comparisons = [
            c
            for c in compare_declarations(baseline, declared, date.today())
            if not addresses or c.address in addresses
        ]
        differing = [c for c in comparisons if _detailed(c)]
        if differing:
            from mesh_platform.core.domain import load_all_domains
            from mesh_platform.core.manifest import mesh_manifest_at

            manifest = mesh_manifest_at(root)
            domains = load_all_domains(root / "domains")
            enriched = iter(with_consumers(differing, manifest, domains))
            comparisons = [next(enriched) if _detailed(c) else c for c in comparisons]
        if output_format is Format.JSON:
            typer.echo(
                json.dumps(
                    {
                        "baseline": f"git:{against}" if against else "published",
                        "violations": sum(c.violation for c in comparisons),
                        "ports": [c.to_json() for c in comparisons],
                    },
                    indent=2,
                )
            )
        else:
            _print_table(comparisons, label)
        if any(c.violation for c in comparisons):
            raise typer.Exit(1)

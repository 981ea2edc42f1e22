"""``mesh generate``: (re)generate the simulated operational systems into the data dir."""

from __future__ import annotations

import typer
from rich.console import Console

from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env


def run_generate(
    scale: float, seed: int, console: Console, faults: list[str] | None = None
) -> None:
    from operational import generate
    from operational.faults import FAULTS, inject

    unknown = sorted(set(faults or []) - set(FAULTS))
    if unknown:  # before anything is (re)generated
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(sorted(FAULTS))}")
    env = apply_tool_env()
    report = generate(env.operational_dir, scale=scale, seed=seed)
    for fault in inject(env.operational_dir, faults or []):
        console.print(f"[yellow]injected fault {fault.kind}[/]: {fault.detail} ({fault.source})")
    events = report.counts["play_events"]
    console.print(
        f"generated operational data (scale {scale}, seed {seed}) in {report.seconds:.1f}s: "
        f"{events:,} play events ({events / max(report.seconds, 1e-9):,.0f}/s), "
        f"{report.counts['listeners']:,} listeners, {report.counts['tracks']:,} tracks "
        f"→ {env.operational_dir}"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def generate(
        scale: float = typer.Option(0.05, help="1 ≈ 1M play events over 90 days."),
        seed: int = typer.Option(42, help="Same seed, same data."),
        fault: list[str] = typer.Option(
            None,
            "--fault",
            metavar="KIND",
            help="Corrupt the generated data with this fault kind (repeatable; "
            "`python -m operational.faults --list` lists them).",
        ),
    ) -> None:
        """Generate Daff's operational source systems (deterministic)."""
        try:
            run_generate(scale, seed, console(), fault)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

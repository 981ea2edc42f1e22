"""``mesh materialize``: build, verify and publish domains through Dagster, then summarize."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import typer
from rich.console import Console
from rich.table import Table

from mesh_platform.cli.output import console
from mesh_platform.core.environment import get_environment


def run_materialize(
    only: list[str] | None, console: Console, day: str | None = None, full_refresh: bool = False
) -> bool:
    """Materialize, print progress and the summary table; True when every product passed.

    With ``day``, only that day of the daily products and what is downstream of it; with
    ``full_refresh``, incremental models rebuild fully whatever changed upstream."""
    from mesh_platform.core.domain import load_all_domains
    from mesh_platform.production.spark_cluster import spark_cluster_for
    from mesh_platform.run.runner import uses_spark

    env = get_environment()
    started: dict[str, float] = {}
    domains = [d for d in load_all_domains(env.domains_dir) if not only or d.name in only]
    with spark_cluster_for(env, uses_spark(domains)) as master:
        if master:
            console.print(f"Spark domains build on {master}")
        return _run(only, console, day, full_refresh, started)


def _run(only, console: Console, day, full_refresh: bool, started: dict[str, float]) -> bool:
    # Dagster and dbt load only for the verbs that run pipelines: `mesh products` stays fast.
    from mesh_platform.build.execute import DomainRun
    from mesh_platform.run.increment import materialize_day
    from mesh_platform.run.runner import materialize_mesh
    from mesh_platform.run.summary import product_rows

    env = get_environment()

    def on_start(domain: str) -> None:
        started[domain] = time.monotonic()
        what = f"day {day} and downstream" if day else "dbt build"
        console.print(f"[bold]▶ {domain}[/]: {what} → Soda contracts → publish …")

    def on_done(run: DomainRun) -> None:
        if day:
            _only_touched(run)
        took = time.monotonic() - started[run.domain]
        mark = "[green]✔[/]" if run.success else "[red]✘[/]"
        console.print(f"{mark} {run.domain} in {took:.1f}s (runs {', '.join(run.run_ids)})")
        for row in product_rows([run]):
            console.print(product_line(row))
        for error in run.errors:
            console.print(f"[red]{error}[/]")

    if day:
        runs = materialize_day(day, only=only, on_start=on_start, on_done=on_done)
        for run in runs:
            _only_touched(run)
    else:
        runs = materialize_mesh(
            only=only, on_start=on_start, on_done=on_done, full_refresh=full_refresh
        )
    rows = product_rows(runs)
    console.print(_table(rows))
    failed = [r for r in rows if r.status != "published"]
    if failed:
        names = ", ".join(f"{r.domain}.{r.product}" for r in failed)
        console.print(
            f"[red bold]FAILED[/]: {names} — see the errors above; published ports kept "
            "their previous snapshot."
        )
        return False
    console.print(f"[green bold]all {len(rows)} products published[/] under {env.ports_dir}")
    return True


def product_line(row) -> str:
    """One port's line under its domain's result: what was published and what its checks said."""
    mark = "[green]✔[/]" if row.status == "published" else "[red]✘[/]"
    if row.status == "published":
        rows = f"{row.rows:,} rows published"
    elif row.rows is not None:
        rows = f"NOT published, consumers keep the previous snapshot ({row.rows:,} rows)"
    else:
        rows = "NOT published, and no earlier snapshot exists"
    if not row.checks_ran:  # not "0 passed / 0 failed": nothing was checked
        why = "" if row.status == "published" else " (the errors below say why)"
        return f"    {mark} {row.address}: {rows}, contract checks not run{why}"
    return (
        f"    {mark} {row.address}: {rows}, checks {row.checks_passed} passed"
        f" / {row.checks_failed} failed"
        + (f" / [yellow]{row.checks_warned} warned[/]" if row.checks_warned else "")
    )


def _checks_cell(r) -> str:
    if not r.checks_ran:
        return "not run"
    return f"{r.checks_passed}/{r.checks_failed}" + (
        f" [yellow]⚠{r.checks_warned}[/]" if r.checks_warned else ""
    )


def _table(rows) -> Table:
    table = Table(title="Data products")
    for col in (
        "domain",
        "product",
        "owner",
        "rows published",
        "checks ✔/✘",
        "output port",
        "status",
    ):
        table.add_column(col, justify="right" if col == "rows published" else "left")
    for r in rows:
        style = "green" if r.status == "published" else "red"
        table.add_row(
            r.domain,
            r.product,
            r.owner,
            f"{r.rows:,}" if r.rows is not None else "—",
            _checks_cell(r),
            r.address,
            f"[{style}]{r.status}[/]",
        )
    return table


def _only_touched(run) -> None:
    """Products a day's run did not touch are not part of its report."""
    run.spec = replace(
        run.spec,
        products=tuple(
            p
            for p in run.spec.products
            if any(f"{p.domain}/{port.model}" in run.materialized for port in p.output_ports)
            or any(f"{p.domain}/{port.model}" in run.checks for port in p.output_ports)
        ),
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def materialize(
        domains: list[str] = typer.Argument(None, help="Domains to run (default: all)."),
        day: str = typer.Option(
            None,
            "--day",
            help="Only this day (YYYY-MM-DD) of the daily products, and what is downstream.",
        ),
        full_refresh: bool = typer.Option(
            False,
            "--full-refresh",
            help="Rebuild incremental models fully (default: from the first upstream day that "
            "changed since their last build).",
        ),
        engine: str = typer.Option(
            None,
            "--engine",
            help="Build every domain of this run on this engine (duckdb or spark), whatever "
            "its domain.yaml says (same as MESH_ENGINE). Spark: a local cluster is started "
            "unless MESH_SPARK_MASTER names one.",
        ),
    ) -> None:
        """Materialize every product of the given domains (all by default), upstream first."""
        if day and full_refresh:
            raise typer.BadParameter("--day runs one day; --full-refresh rebuilds everything")
        if engine:
            from mesh_platform.core.engine import ENGINE_VARIABLE, EngineError, check_engine

            try:
                os.environ[ENGINE_VARIABLE] = check_engine(engine, "--engine")
            except EngineError as exc:
                raise typer.BadParameter(str(exc)) from None
        if not run_materialize(domains or None, console(), day=day, full_refresh=full_refresh):
            raise typer.Exit(1)

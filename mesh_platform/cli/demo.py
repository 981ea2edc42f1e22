"""``mesh demo``: generate data, prepare dbt, materialize the whole mesh, print the summary."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import typer

from mesh_platform.cli.generate import parse_day, run_generate
from mesh_platform.cli.materialize import run_materialize
from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import prepare_all


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        scale: float = typer.Option(0.05, help="Size of the generated data (1 ≈ 1M events)."),
        seed: int = typer.Option(42),
        end: str = typer.Option(
            None, "--end", metavar="YYYY-MM-DD", help="Last day of the data (default: yesterday)."
        ),
    ) -> None:
        """Run the whole mesh end to end on the embedded default."""
        out = console()
        env = apply_tool_env()
        out.print(f"data directory: {env.data_dir}")
        before = generated_identity(env.operational_dir)
        try:
            run_generate(scale, seed, out, end=parse_day(end) if end else None)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        after = generated_identity(env.operational_dir)
        if before is not None and before != after:
            for line in reset_derived_state(env, before, after):
                out.print(line)
        prepare_all(env)
        if not run_materialize(None, out):
            raise typer.Exit(1)


def generated_identity(operational_dir: Path) -> tuple | None:
    """What the generated sources are a function of (scale, seed, first day, days), from the
    data's ``manifest.json``; None when there is none (or it cannot be read)."""
    try:
        meta = json.loads((Path(operational_dir) / "manifest.json").read_text())
        return (meta["scale"], meta["seed"], meta["start"], meta["days"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reset_derived_state(env, before: tuple, after: tuple) -> list[str]:
    """The demo regenerated *different* sources (a live window ends yesterday, so a demo run on
    a later day shifts it): what was built and published from the old sources describes another
    world — its keys would collide with the new days' — so the warehouses, the published ports
    and the pinned inputs are removed before the build. Grants, access requests, tokens, the
    audit log and the Dagster instance are kept. Ports on object storage are not deleted by a
    demo: it stops and says what to clear."""
    remote = os.environ.get("MESH_PORTS_URI", "")
    if "://" in remote and not remote.startswith("file://"):
        raise typer.BadParameter(
            f"the generated sources changed ({_describe(before)} -> {_describe(after)}), but the "
            f"ports built from the old ones are at MESH_PORTS_URI={remote}: clear that prefix "
            "(or point MESH_PORTS_URI at an empty one), then rerun `mesh demo`"
        )
    removed = []
    for path in (env.warehouse_dir, env.ports_dir, env.data_dir / "inputs"):
        if path.exists():
            shutil.rmtree(path)
            removed.append(path.name)
    return [
        f"the generated sources changed ({_describe(before)} -> {_describe(after)}): removed "
        f"what was built from the old ones ({', '.join(removed) or 'nothing'}); grants, "
        "requests, tokens and the audit log are kept"
    ]


def _describe(identity: tuple) -> str:
    scale, seed, start, days = identity
    return f"scale {scale}, seed {seed}, {days} days from {start}"

"""``mesh generate``: (re)generate the mesh's simulated operational systems into the data dir.

The generator belongs to the mesh, not to the platform: ``[tool.mesh] generator`` in the
mesh's ``pyproject.toml`` names it as ``module:function``. The function takes the output
folder, a scale, a seed and a list of fault kinds (and ``end=``, the window's last day, when
``--end`` is given), and yields lines to print. ``[tool.mesh] increment`` names the function
that lands the next day of data (``--append-day``; a running ``mesh dev`` calls it after
midnight): it takes the output folder and yields lines to print.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from mesh_platform.cli.output import console
from mesh_platform.core.environment import MeshEnvironment, apply_tool_env
from mesh_platform.core.settings import mesh_settings

Generator = Callable[..., Iterator[str]]


def _named(env: MeshEnvironment, setting: str, what: str):
    spec = mesh_settings(env.repo_root).get(setting)
    if not spec or ":" not in spec:
        raise ValueError(
            f'this mesh names no {what}: set `{setting} = "module:function"` '
            f"under [tool.mesh] in {env.repo_root / 'pyproject.toml'}, or put the operational data in "
            f"{env.operational_dir} yourself"
        )
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)


def mesh_generator(env: MeshEnvironment) -> Generator:
    """The generator the mesh names; a ValueError saying what to set when it names none."""
    return _named(env, "generator", "source-data generator")


def mesh_increment(env: MeshEnvironment) -> Callable[[Path], Iterator[str]]:
    """The mesh's daily increment (lands the next day); a ValueError when it names none."""
    return _named(env, "increment", "daily increment of its source data")


def run_generate(
    scale: float,
    seed: int,
    console: Console,
    faults: list[str] | None = None,
    end: date | None = None,
) -> None:
    env = apply_tool_env()
    pinned = {"end": end} if end is not None else {}
    generator = mesh_generator(env)
    for line in generator(env.operational_dir, scale, seed, list(faults or []), **pinned):
        console.print(line)


def run_increment(console: Console) -> None:
    """Land the next day of the mesh's source data."""
    env = apply_tool_env()
    if not env.operational_dir.is_dir():
        raise ValueError(f"no operational data in {env.operational_dir}: run `mesh generate` first")
    for line in mesh_increment(env)(env.operational_dir):
        console.print(line)


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
            "the generator lists them).",
        ),
        end: str = typer.Option(
            None,
            "--end",
            metavar="YYYY-MM-DD",
            help="Last day of the data (default: yesterday, UTC, so the demo is live).",
        ),
        append_day: bool = typer.Option(
            False,
            "--append-day",
            help="Land the next day of data on the existing data instead (the daily "
            "increment), then build it: mesh materialize --day <that day>.",
        ),
    ) -> None:
        """Generate the mesh's operational source systems (deterministic for a given --end)."""
        try:
            if append_day:
                run_increment(console())
                return
            run_generate(scale, seed, console(), fault, parse_day(end) if end else None)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--end {text!r} is not a date: use YYYY-MM-DD") from None

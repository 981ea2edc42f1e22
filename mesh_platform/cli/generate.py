"""``mesh generate``: (re)generate the mesh's simulated operational systems into the data dir.

The generator belongs to the mesh, not to the platform: ``[tool.mesh] generator`` in the
mesh's ``pyproject.toml`` names it as ``module:function``. The function takes the output
folder, a scale, a seed and a list of fault kinds, and yields lines to print.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console

from mesh_platform.cli.output import console
from mesh_platform.core.environment import MeshEnvironment, apply_tool_env
from mesh_platform.core.settings import mesh_settings

Generator = Callable[[Path, float, int, list[str]], Iterator[str]]


def mesh_generator(env: MeshEnvironment) -> Generator:
    """The generator the mesh names; a ValueError saying what to set when it names none."""
    spec = mesh_settings(env.repo_root).get("generator")
    if not spec or ":" not in spec:
        raise ValueError(
            f'this mesh names no source-data generator: set `generator = "module:function"` '
            f"under [tool.mesh] in {env.repo_root / 'pyproject.toml'}, or put the operational data in "
            f"{env.operational_dir} yourself"
        )
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)


def run_generate(
    scale: float, seed: int, console: Console, faults: list[str] | None = None
) -> None:
    env = apply_tool_env()
    for line in mesh_generator(env)(env.operational_dir, scale, seed, list(faults or [])):
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
    ) -> None:
        """Generate the mesh's operational source systems (deterministic)."""
        try:
            run_generate(scale, seed, console(), fault)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

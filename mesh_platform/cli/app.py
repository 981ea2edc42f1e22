"""The ``mesh`` command line: one module per verb, each a thin layer over the platform."""

from __future__ import annotations

import os
import sys

import typer

from mesh_platform.access.errors import AccessDenied
from mesh_platform.catalog.catalog import CatalogError
from mesh_platform.cli import (
    access,
    catalog,
    contract,
    demo,
    dev,
    diff,
    doctor,
    generate,
    import_dbt,
    infra,
    lint,
    materialize,
    new,
    portal,
    ports,
    prepare,
    products,
    query,
    redeploy,
    release,
    remove,
    serve,
)
from mesh_platform.cli.output import console
from mesh_platform.core.descriptor import DescriptorError
from mesh_platform.core.manifest import DbtProjectError

app = typer.Typer(
    name="mesh",
    help="Self-serve data mesh platform: build, verify, publish and query data products.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (
    catalog,
    access,
    generate,
    prepare,
    materialize,
    demo,
    products,
    query,
    dev,
    serve,
    redeploy,
    lint,
    diff,
    contract,
    infra,
    new,
    import_dbt,
    doctor,
    remove,
    release,
    portal,
    ports,
):
    module.register(app)


USER_ERRORS = (
    DescriptorError,
    DbtProjectError,
    FileNotFoundError,
    ValueError,
    RuntimeError,
    CatalogError,
)


def main() -> None:
    """Run the CLI; a problem the user can fix prints one clear message and exits with 2
    (3 when access is denied)."""
    os.umask(0o077)  # whatever a verb writes (requests, grants, audit) is its owner's only
    try:
        app()
    except AccessDenied as exc:
        console().print(f"[red bold]denied:[/] {exc}")
        sys.exit(3)
    except USER_ERRORS as exc:
        console().print(f"[red bold]error:[/] {exc}")
        sys.exit(2)

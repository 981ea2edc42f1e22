"""``mesh release DOMAIN.PRODUCT``: a draft product becomes released (its schema frozen per
major, readable by other domains)."""

from __future__ import annotations

import typer

from mesh_platform.cli.new import DRY_RUN, finish
from mesh_platform.core.environment import get_environment


def register(app: typer.Typer) -> None:
    @app.command()
    def release(
        target: str = typer.Argument(..., help="The draft product, as DOMAIN.PRODUCT."),
        dry_run: bool = DRY_RUN,
    ) -> None:
        """Release a draft product: from now on a breaking change needs a new major."""
        from mesh_platform.cli.remove import Kind, _split
        from mesh_platform.scaffold.release import plan_release

        domain, product = _split(Kind.PRODUCT, target)
        finish(plan_release(get_environment(), domain, product), dry_run)

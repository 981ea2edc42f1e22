"""``mesh remove`` and ``mesh rename``: a domain or product, refused while consumers exist."""

from __future__ import annotations

from enum import StrEnum

import typer

from mesh_platform.cli.new import DRY_RUN, finish
from mesh_platform.core.environment import get_environment


class Kind(StrEnum):
    DOMAIN = "domain"
    PRODUCT = "product"


FORCE = typer.Option(False, "--force", help="Go ahead although downstream consumers exist.")


def _split(kind: Kind, target: str) -> tuple[str, str | None]:
    from mesh_platform.scaffold.plan import ScaffoldError

    if kind is Kind.DOMAIN:
        return target, None
    if target.count(".") != 1:
        raise ScaffoldError(
            f"give the product as DOMAIN.PRODUCT, e.g. merch.orders (got {target!r})"
        )
    domain, product = target.split(".")
    return domain, product


def register(app: typer.Typer) -> None:
    @app.command()
    def remove(
        kind: Kind = typer.Argument(..., help="domain or product"),
        target: str = typer.Argument(..., help="DOMAIN, or DOMAIN.PRODUCT"),
        force: bool = FORCE,
        dry_run: bool = DRY_RUN,
    ) -> None:
        """Remove a domain or a product and everything that lists it."""
        from mesh_platform.scaffold import lifecycle

        env = get_environment()
        domain, product = _split(kind, target)
        if product is None:
            plan = lifecycle.plan_remove_domain(env, domain, force)
        else:
            plan = lifecycle.plan_remove_product(env, domain, product, force)
        finish(plan, dry_run)

    @app.command()
    def rename(
        kind: Kind = typer.Argument(..., help="domain or product"),
        target: str = typer.Argument(..., help="DOMAIN, or DOMAIN.PRODUCT"),
        new_name: str = typer.Argument(..., help="The new name (for a product: without domain)."),
        force: bool = FORCE,
        dry_run: bool = DRY_RUN,
    ) -> None:
        """Rename a domain or a product (its files, settings and address)."""
        from mesh_platform.scaffold import lifecycle

        env = get_environment()
        domain, product = _split(kind, target)
        if product is None:
            plan = lifecycle.plan_rename_domain(env, domain, new_name, force)
        else:
            plan = lifecycle.plan_rename_product(env, domain, product, new_name, force)
        finish(plan, dry_run)

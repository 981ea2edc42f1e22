"""One row per data product after a run: the table ``make demo`` prints."""

from __future__ import annotations

from dataclasses import dataclass

from mesh_platform.build.execute import DomainRun
from mesh_platform.core.environment import get_environment
from mesh_platform.core.product_view import product_view
from mesh_platform.ports.store import current_snapshot


@dataclass(frozen=True)
class ProductRow:
    domain: str
    product: str
    owner: str
    rows: int | None
    checks_passed: int
    checks_failed: int
    checks_warned: int
    address: str
    status: str
    checks_ran: bool = True  # False: no contract check was evaluated in the run (not 0 of 0)


def product_rows(runs: list[DomainRun]) -> list[ProductRow]:
    env = get_environment()
    rows = []
    for run in runs:
        domain = run.spec
        for product in domain.products:
            for port in product_view(domain, product).ports:
                tally = run.checks.get(port.asset_key_string)
                snap = current_snapshot(env.ports_dir, port.domain, port.address.port, port.version)
                published = port.asset_key_string in run.materialized and (
                    tally is None or tally.failed == 0
                )
                rows.append(
                    ProductRow(
                        domain=domain.name,
                        product=product.name,
                        owner=port.owner.team,
                        rows=snap.rows if snap else None,
                        checks_passed=tally.passed if tally else 0,
                        checks_failed=tally.failed if tally else 0,
                        checks_warned=tally.warned if tally else 0,
                        address=port.label,
                        status="published" if published else "NOT published",
                        checks_ran=tally is not None,
                    )
                )
    return rows

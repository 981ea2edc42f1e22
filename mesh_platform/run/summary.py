"""One row per data product after a run: the table ``make demo`` prints."""

from __future__ import annotations

from dataclasses import dataclass

from mesh_platform.build.execute import DomainRun
from mesh_platform.core.environment import get_environment
from mesh_platform.ports.store import current_snapshot


@dataclass(frozen=True)
class ProductRow:
    domain: str
    product: str
    owner: str
    rows: int | None
    checks_passed: int
    checks_failed: int
    address: str
    status: str


def product_rows(runs: list[DomainRun]) -> list[ProductRow]:
    env = get_environment()
    rows = []
    for run in runs:
        domain = run.spec
        for product in domain.products:
            for port in product.output_ports:
                key = f"{domain.name}/{port.model}"
                tally = run.checks.get(key)
                snap = current_snapshot(env.ports_dir, domain.name, port.name, port.version)
                published = key in run.materialized and (tally is None or tally.failed == 0)
                rows.append(
                    ProductRow(
                        domain=domain.name,
                        product=product.name,
                        owner=product.owner.team if product.owner else "(no owner)",
                        rows=snap.rows if snap else None,
                        checks_passed=tally.passed if tally else 0,
                        checks_failed=tally.failed if tally else 0,
                        address=f"{product.address(port)} v{port.version}",
                        status="published" if published else "NOT published",
                    )
                )
    return rows

"""A product's health in one line: freshness of its data, its last check outcome, compliance.

Listings (home page, search, the scorecard) show it for every product at once, so it is built
from what is cheap for all of them: the catalog (published snapshots, their time columns and
governance records) and one query for the newest execution of every check (passed in as
``check_statuses``, read by :func:`mesh_platform.build.run_history.latest_check_statuses`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import ProductEntry
from mesh_platform.catalog.history import DataTime, Freshness, data_times, freshness

CheckStatuses = dict[tuple[str, str], str]  # ("domain/model", check) -> SUCCEEDED | FAILED | …

# the health facet's values, worst first: a product shows the first that applies
HEALTH_VALUES = ("never published", "failing checks", "not compliant", "stale", "healthy")


@dataclass(frozen=True)
class Health:
    freshness: Freshness
    checks: str  # passed | failed | no results
    checks_passed: int
    checks_total: int
    failing_checks: tuple[str, ...]
    compliance: str  # compliant | not compliant | not evaluated yet
    documented_columns: int
    columns: int
    has_description: bool

    @property
    def status(self) -> str:
        """One value for the search facet (see ``HEALTH_VALUES``)."""
        if self.freshness.status == "never published":
            return "never published"
        if self.checks == "failed":
            return "failing checks"
        if self.compliance != "compliant":
            return "not compliant"
        if self.freshness.status == "stale":
            return "stale"
        return "healthy"

    @property
    def documentation(self) -> int:
        """Percent documented: the description and every column's doc count alike."""
        total = self.columns + 1
        return round(100 * (self.documented_columns + self.has_description) / total)

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["status"] = self.status
        raw["documentation"] = self.documentation
        return raw


def compliance_of(governance: dict[str, Any] | None) -> str:
    if governance is None:
        return "not evaluated yet"
    errors = [f for f in governance.get("findings") or [] if f.get("severity") == "error"]
    return "compliant" if governance.get("passed") and not errors else "not compliant"


def product_health(
    product: ProductEntry,
    data_time: DataTime | None,
    check_statuses: CheckStatuses | None,
    now: float | None = None,
) -> Health:
    passed, total, failing = 0, 0, []
    for port in product.ports:
        path = f"{port.domain}/{port.model}"
        for name in port.check_names:
            status = (check_statuses or {}).get((path, name))
            if status is None:
                continue
            total += 1
            if status == "FAILED":
                failing.append(f"{port.label}: {name}")
            else:
                passed += 1  # succeeded, or a warning (reported, did not block)
    checks = "no results" if total == 0 else ("failed" if failing else "passed")
    compliances = {compliance_of(p.governance) for p in product.ports}
    compliance = next(
        (c for c in ("not compliant", "not evaluated yet") if c in compliances), "compliant"
    )
    columns = [c for p in product.latest_ports() for c in p.columns]
    return Health(
        freshness=freshness(product, data_time, now),
        checks=checks,
        checks_passed=passed,
        checks_total=total,
        failing_checks=tuple(failing),
        compliance=compliance,
        documented_columns=sum(1 for c in columns if c.description),
        columns=len(columns),
        has_description=bool(product.description),
    )


def check_keys(catalog: Catalog) -> list[tuple[list[str], str]]:
    """Every check of every port, as ``(asset path, check name)``."""
    return [
        ([port.domain, port.model], name)
        for port in catalog.all_ports()
        for name in port.check_names
    ]


def mesh_health(
    catalog: Catalog, check_statuses: CheckStatuses | None, now: float | None = None
) -> dict[str, Health]:
    """Every product's :class:`Health`, by key."""
    times = data_times(catalog)
    return {
        key: product_health(product, times.get(key), check_statuses, now)
        for key, product in catalog.products.items()
    }

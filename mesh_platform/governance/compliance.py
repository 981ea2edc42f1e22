"""Compliance per product and per domain: a score and the failing policies, for the catalog.

A product's score is the share of the mesh's policies it satisfies: a policy with an error
finding counts as failed, a policy with only warnings counts half.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mesh_platform.governance.engine import GovernanceReport


def compliance_summary(report: GovernanceReport) -> dict[str, Any]:
    policies = len(report.policies) or 1
    failing: dict[tuple[str, str], set[str]] = defaultdict(set)
    warned: dict[tuple[str, str], set[str]] = defaultdict(set)
    domain_wide: dict[str, set[str]] = defaultdict(set)
    for f in report.findings:
        if f.product is None:
            if f.is_error:
                domain_wide[f.domain].add(f.policy)
            continue
        (failing if f.is_error else warned)[(f.domain, f.product)].add(f.policy)
    products = []
    for domain, product in report.products:
        key = (domain, product)
        failed = failing[key] | domain_wide[domain]
        warn_only = warned[key] - failed
        score = 100 * (policies - len(failed) - 0.5 * len(warn_only)) / policies
        products.append(
            {
                "domain": domain,
                "product": product,
                "score": round(score, 1),
                "compliant": not failed,
                "failing_policies": sorted(failed),
                "warning_policies": sorted(warn_only),
            }
        )
    domains = []
    for domain in sorted({d for d, _ in report.products} | set(domain_wide)):
        mine = [p for p in products if p["domain"] == domain]
        domains.append(
            {
                "domain": domain,
                "score": round(sum(p["score"] for p in mine) / len(mine), 1) if mine else 0.0,
                "products": len(mine),
                "compliant_products": sum(p["compliant"] for p in mine),
                "failing_policies": sorted(
                    {pol for p in mine for pol in p["failing_policies"]} | domain_wide[domain]
                ),
            }
        )
    return {"policies": policies, "products": products, "domains": domains}

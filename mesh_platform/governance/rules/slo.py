"""SLO: every product declares freshness; the translator turns it into a Dagster freshness policy."""

from __future__ import annotations

from collections.abc import Iterator

from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    for domain, product in ctx.products:
        if product.slo is None:
            yield ctx.finding(
                "slo.freshness",
                domain.name,
                product.name,
                None,
                "slo.freshness_hours",
                "the product declares no freshness SLO, so consumers cannot know how fresh it "
                "is promised to be and nobody is alerted when it is late.",
                f"add `slo: {{freshness_hours: <hours>}}` to domains/{domain.name}/products/"
                f"{product.name}.yaml (e.g. 26 for a daily product).",
            )

"""Drafts: a product may change its schema freely until it is released, so nobody outside its
domain may build on it yet.

A draft is exempt from the versioning policy (``governance/versioning.py``); in exchange no
other domain declares one of its ports as an input. The owner releases it with
``mesh release DOMAIN.PRODUCT``, which freezes its majors.
"""

from __future__ import annotations

from collections.abc import Iterator

from mesh_platform.core.address import PortAddress
from mesh_platform.core.descriptor import PortInput
from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding

POLICY = "boundaries.no-draft-inputs"


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    drafts = set(ctx.draft_ports) | {
        product.address(port)
        for _, product in ctx.products
        if product.is_draft
        for port in product.output_ports
    }
    if not drafts:
        return
    for domain, product in ctx.products:
        for index, entry in enumerate(product.input_ports):
            if not isinstance(entry, PortInput) or entry.port not in drafts:
                continue
            address, upstream = entry.port, PortAddress.parse(entry.port)
            if upstream.domain == domain.name:
                continue
            producer = _producer(ctx, upstream.domain, upstream.port) or upstream.port
            yield ctx.finding(
                POLICY,
                domain.name,
                product.name,
                None,
                f"input_ports[{index}]",
                f"{domain.name}.{product.name} declares {address} as an input, but "
                f"{upstream.domain}.{producer} is a draft: its schema may still change.",
                f"the owner of {upstream.domain}.{producer} runs `mesh release "
                f"{upstream.domain}.{producer}` once its schema is settled; until then remove "
                f"the input from domains/{domain.name}/products/{product.name}.yaml.",
            )


def _producer(ctx: MeshContext, domain: str, port: str) -> str | None:
    """The product name of a port address (ports are usually named like their product)."""
    for d, product in ctx.products:
        if d.name == domain and any(p.name == port for p in product.output_ports):
            return product.name
    return None

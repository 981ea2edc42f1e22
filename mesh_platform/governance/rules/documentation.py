"""Documentation: product description, every port column described, a usage example."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding

MIN_DESCRIPTION = 40


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    for domain, product in ctx.products:
        if len(product.description.strip()) < MIN_DESCRIPTION:
            yield ctx.finding(
                "documentation.product-description",
                domain.name,
                product.name,
                None,
                "description",
                f"the product description has {len(product.description.strip())} characters; "
                f"at least {MIN_DESCRIPTION} are needed to say what the data is and who it is for.",
                f"write a `description` in domains/{domain.name}/products/{product.name}.yaml: "
                "what one row is, where it comes from, what it is for.",
            )
    for subject in ctx.ports:
        for name, column in subject.columns.items():
            if not (column.get("description") or "").strip():
                yield ctx.port_finding(
                    "documentation.column-description",
                    subject,
                    name,
                    f"column `{name}` of model {subject.port.model} has no description.",
                    f"add a `description` to column `{name}` in {subject.model_file}.",
                )
        field = f"output_ports[{subject.port_index}].example"
        example = subject.port.example
        if not example:
            yield ctx.port_finding(
                "documentation.usage-example",
                subject,
                field,
                "the port has no usage example.",
                f"add `example:` with a SQL query over `{subject.address}` to the port in "
                f"{subject.descriptor_file}.",
            )
        elif not re.search(
            rf"\b{re.escape(subject.address)}(_v{subject.port.version})?\b", example, re.IGNORECASE
        ):
            yield ctx.port_finding(
                "documentation.usage-example",
                subject,
                field,
                f"the usage example does not query the port by its address `{subject.address}`.",
                f"write the example as `select … from {subject.address} …`.",
            )

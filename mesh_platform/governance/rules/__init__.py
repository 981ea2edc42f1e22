"""One module per global policy; each exposes ``evaluate(ctx) -> Iterator[Finding]``.

Static rules look at descriptors, the dbt manifest and contracts (lint and definition load);
the data-level rules run on the built tables before publishing (``mesh_platform.governance.runtime``).
"""

from mesh_platform.governance.rules import (
    boundaries,
    classification,
    contract_coverage,
    documentation,
    drafts,
    interoperability,
    ownership,
    slo,
)

STATIC_RULES = (
    ownership,
    documentation,
    contract_coverage,
    slo,
    classification,
    interoperability,
    boundaries,
    drafts,
)

"""Classification: personal-data columns are classified, and protected unless allowed raw.

A column's classification lives in its dbt model YAML (``config: {meta: {pii: ...}}``), next
to its description and type: ``pii: {category: email, treatment: hashed}`` or ``pii: false``.
That the treatment is real is checked on the data before publishing (``runtime``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mesh_platform.core.descriptor import Classification
from mesh_platform.governance.context import MeshContext, PortSubject, column_meta
from mesh_platform.governance.report import Finding

PROTECTED_CLASSES = {Classification.CONFIDENTIAL, Classification.RESTRICTED}


def pii_of(column: Mapping[str, Any]) -> Any:
    """The column's ``pii`` classification: a mapping, ``False``, or None (unclassified)."""
    return column_meta(column).get("pii")


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    for subject in ctx.ports:
        yield from _port(ctx, subject)


def _port(ctx: MeshContext, subject: PortSubject) -> Iterator[Finding]:
    personal = ctx.config.personal_data
    treatments = sorted(personal.treatments)
    holds_pii = False
    for name, column in subject.columns.items():
        pii = pii_of(column)
        looks_like = personal.category_of(name, column.get("data_type"))
        if pii is None:
            if looks_like:
                yield ctx.port_finding(
                    "classification.personal-data-classified",
                    subject,
                    name,
                    f"column `{name}` looks like personal data ({looks_like}) but is not classified.",
                    f"in {subject.model_file}, give column `{name}` `config: {{meta: {{pii: "
                    f"{{category: {looks_like}, treatment: <{'|'.join(treatments)}>}}}}}}`, or "
                    "`pii: false` if it is not personal data.",
                )
            continue
        if pii is False:
            continue
        if (
            not isinstance(pii, Mapping)
            or not pii.get("category")
            or pii.get("treatment") not in personal.treatments
        ):
            yield ctx.port_finding(
                "classification.personal-data-classified",
                subject,
                name,
                f"column `{name}` has an invalid classification {pii!r}.",
                f"write `pii: {{category: <e.g. email>, treatment: <{'|'.join(treatments)}>}}` "
                f"or `pii: false` in {subject.model_file}.",
            )
            continue
        holds_pii = True
        allowed_raw = (
            subject.port.carries_pii and subject.product.classification is Classification.RESTRICTED
        )
        if pii["treatment"] == "raw" and not allowed_raw:
            yield ctx.port_finding(
                "classification.personal-data-protected",
                subject,
                name,
                f"column `{name}` publishes raw personal data ({pii['category']}) on a port that "
                "may not carry it.",
                f"hash ({personal.treatments['hashed'].how}), mask or drop it in model "
                f"{subject.port.model}; or, if consumers truly need it, set `carries_pii: true` "
                "on the port and `classification: restricted` on the product so access needs a "
                "grant.",
            )
    if subject.port.carries_pii and subject.product.classification is not Classification.RESTRICTED:
        yield ctx.port_finding(
            "classification.personal-data-protected",
            subject,
            f"output_ports[{subject.port_index}].carries_pii",
            "the port may carry raw personal data but the product is "
            f"{subject.product.classification.value}, not restricted.",
            f"set `classification: restricted` in {subject.descriptor_file} or remove "
            "`carries_pii`.",
        )
    if holds_pii and subject.product.classification not in PROTECTED_CLASSES:
        yield ctx.port_finding(
            "classification.product-level",
            subject,
            "classification",
            "the port holds personal data (even hashed or masked, it identifies people) but "
            f"the product is classified {subject.product.classification.value}.",
            f"set `classification: confidential` (or `restricted`) in {subject.descriptor_file}.",
        )

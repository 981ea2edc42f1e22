"""Interoperability: naming conventions, and shared keys typed the same in every domain.

The formats of shared keys are checked on the data before publishing (``runtime``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mesh_platform.core.declared_schema import normalize_type
from mesh_platform.governance.context import MeshContext, PortSubject
from mesh_platform.governance.report import Finding


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    naming = ctx.config.naming
    keys = ctx.config.shared_keys
    for subject in ctx.ports:
        yield from _partition_column(ctx, subject)
        name = subject.port.name
        if not re.fullmatch(naming.port_name, name) or re.search(naming.port_name_forbidden, name):
            yield ctx.port_finding(
                "interoperability.port-name",
                subject,
                f"output_ports[{subject.port_index}].name",
                f"port name {name!r} breaks the naming convention (snake_case, no layer prefix "
                "such as stg_/int_, no version suffix — the version is its own field).",
                f"rename the port in {subject.descriptor_file} (see governance/naming.yaml).",
            )
        for column_name, column in subject.columns.items():
            data_type = normalize_type(column.get("data_type") or "")
            if not re.fullmatch(naming.column_name, column_name):
                yield ctx.port_finding(
                    "interoperability.column-name",
                    subject,
                    column_name,
                    f"column name `{column_name}` is not snake_case.",
                    f"rename it in model {subject.port.model} and {subject.model_file}.",
                )
            suffix = naming.type_suffixes.get(data_type)
            if suffix and not column_name.endswith(suffix):
                yield ctx.port_finding(
                    "interoperability.column-name",
                    subject,
                    column_name,
                    f"column `{column_name}` is a {data_type} but does not end with `{suffix}`.",
                    f"rename it (e.g. `{column_name}{suffix}`) in model {subject.port.model}.",
                )
            key = keys.key_for(column_name)
            if key and data_type != normalize_type(keys.keys[key].data_type):
                yield ctx.port_finding(
                    "interoperability.shared-key-type",
                    subject,
                    column_name,
                    f"column `{column_name}` is the shared key `{key}` but typed {data_type}; "
                    f"the glossary says {keys.keys[key].data_type} in every domain.",
                    f"cast it to {keys.keys[key].data_type} in model {subject.port.model} and "
                    f"set `data_type` in {subject.model_file} (governance/shared_keys.yaml).",
                )


def _partition_column(ctx: MeshContext, subject: PortSubject) -> Iterator[Finding]:
    """A product published per day names a DATE column every port has: otherwise the publish
    of its first run fails (ports.py refuses it) — found here, before anything runs."""
    part = subject.product.partitioning
    if part is None or part.column is None:
        return
    column = subject.columns.get(part.column)
    data_type = normalize_type((column or {}).get("data_type") or "")
    if column is not None and data_type == "date":
        return
    model = subject.port.model
    found = (
        f"is not a column of model {model}"
        if column is None
        else f"is typed {data_type or 'nothing'} in model {model}"
    )
    yield ctx.port_finding(
        "interoperability.partition-column",
        subject,
        part.column,
        f"partitioning.column `{part.column}` {found}; a product published per day needs a "
        "DATE column holding the day in every output port.",
        f"declare `{part.column}` with `data_type: date` in model {subject.port.model} "
        f"({subject.model_file}), or fix partitioning.column in {subject.descriptor_file}.",
    )

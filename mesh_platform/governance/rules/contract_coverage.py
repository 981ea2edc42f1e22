"""Contract coverage: an enforced dbt contract, and a Soda contract over every column and key."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding

IDENTIFIER = re.compile(r"(^|_)id$")


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    keys = ctx.config.shared_keys
    for subject in ctx.ports:
        if not (subject.node.get("config", {}).get("contract") or {}).get("enforced"):
            yield ctx.port_finding(
                "contract.dbt-enforced",
                subject,
                "config.contract.enforced",
                f"the dbt model {subject.port.model} backing the port has no enforced contract, "
                "so dbt does not check its schema at build time.",
                f"set `config: {{contract: {{enforced: true}}}}` on the model in "
                f"{subject.model_file} (or `+contract` for the marts folder in dbt_project.yml) "
                "and give every column a `data_type`.",
            )
        for name, column in subject.columns.items():
            if not column.get("data_type"):
                yield ctx.port_finding(
                    "contract.dbt-enforced",
                    subject,
                    name,
                    f"column `{name}` has no `data_type`, so its type is not part of the "
                    "contract and cannot be compared across versions or domains.",
                    f"add `data_type:` to column `{name}` in {subject.model_file}.",
                )
        model_columns = set(subject.columns)
        contract_columns = set(subject.contract.columns)
        for name in sorted(model_columns - contract_columns):
            yield ctx.port_finding(
                "contract.soda-columns",
                subject,
                name,
                f"column `{name}` is published but not in the Soda contract "
                f"{subject.contract.path.name}, so it is never verified.",
                f"add `- name: {name}` with its `data_type` and checks to {subject.contract_file}.",
            )
        for name in sorted(contract_columns - model_columns):
            yield ctx.port_finding(
                "contract.soda-columns",
                subject,
                name,
                f"the Soda contract names column `{name}`, which model {subject.port.model} "
                "does not declare.",
                f"remove it from {subject.contract_file} or declare it in {subject.model_file}.",
            )
        checked = {c.column for c in subject.contract.checks if c.column}
        for name in sorted(model_columns):
            is_key = bool(IDENTIFIER.search(name)) or keys.key_for(name) is not None
            if is_key and name not in checked:
                yield ctx.port_finding(
                    "contract.key-column-checked",
                    subject,
                    name,
                    f"key column `{name}` has no check in the Soda contract.",
                    f"add at least `- missing:` (and `duplicate:` if it identifies a row) under "
                    f"column `{name}` in {subject.contract_file}.",
                )

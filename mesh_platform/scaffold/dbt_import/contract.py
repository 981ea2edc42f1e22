"""A port's Soda contract from an imported model's YAML and its dbt tests.

The contract is written by the scaffold's own renderer (:func:`columns.soda_contract`), so it is
exactly the format of ``domains/*/contracts/*.yaml`` and :func:`core.contracts.load_contract`
parses it. dbt's built-in generic tests map onto Soda v4 checks:

- ``not_null`` → ``missing``; ``unique`` → ``duplicate``;
- ``accepted_values`` → ``invalid`` with ``valid_values``;
- ``relationships`` → ``invalid`` with ``valid_reference_data`` (Soda v4's reference check) when
  the referenced relation's dataset is known, else it stays a dbt test.

A test's ``where`` becomes the check's ``filter``. What is not mapped — a test of a package or of
the project (``non_negative``), a ``severity: warn`` test (a contract check would block publishing
where dbt only warned), a relationship whose dataset is unknown — is kept as a dbt test and
reported by name: nothing is dropped silently. Every column says where its type came from:
the YAML's ``data_type``, the relation built in the throwaway DuckDB, or nowhere.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mesh_platform.core.declared_schema import normalize_type
from mesh_platform.scaffold import columns as cols
from mesh_platform.scaffold.dbt_import.summary import Finding, ModelInfo, ProjectSummary, TestInfo

TYPE_FROM_YAML = "yaml"
TYPE_FROM_RELATION = "relation"
TYPE_UNKNOWN = "none"


@dataclass
class GeneratedContract:
    model: str
    dataset: str
    text: str  # the contract file's YAML
    columns: list[cols.Column]
    type_sources: dict[str, str]  # column -> "yaml" | "relation" | "none"
    mapped: dict[str, str] = field(default_factory=dict)  # dbt test name -> Soda check it became
    findings: list[Finding] = field(default_factory=list)  # kept as dbt tests, type conflicts


def contract_for_port(
    model: ModelInfo,
    dataset: str,
    address: str,
    version: int = 1,
    summary: ProjectSummary | None = None,
    dataset_of: Callable[[str], str | None] | None = None,
) -> GeneratedContract:
    """The Soda contract of ``model`` published as port ``address`` at ``dataset``.

    ``dataset_of(name)`` gives the Soda dataset (``<data source>/<schema>/<table>``) of a model,
    seed or source table (``source.table``) a ``relationships`` test refers to, or None; without
    it a referenced model of ``summary`` is found in the port's data source under the schema dbt
    resolved for it, and anything else stays a dbt test.
    """
    resolve = dataset_of or _default_dataset_of(dataset, summary)
    columns, sources, findings = _columns(model)
    by_name = {c.name: c for c in columns}
    mapped: dict[str, str] = {}
    for test in model.tests:
        column = by_name.get(test.column or "")
        check, why = _check(test, resolve)
        if check is None:
            findings.append(_kept(model, test, why))
            continue
        if column is None:
            findings.append(_kept(model, test, f"column {test.column} is not in the contract"))
            continue
        entry = _add(column, check)
        ((kind, config),) = entry.items()
        qualifier = (config or {}).get("qualifier")
        mapped[test.name] = f"{kind} on {column.name}" + (f" ({qualifier})" if qualifier else "")
    for column in columns:
        info = model.column(column.name)
        for constraint in info.constraints if info else ():
            for kind in {"not_null": ["missing"], "unique": ["duplicate"]}.get(
                constraint, ["missing", "duplicate"] if constraint == "primary_key" else []
            ):
                if not any(kind in c for c in column.checks):
                    column.checks.append({kind: None})
    text = cols.soda_contract(dataset, address, version, [_as_written(c) for c in columns])
    return GeneratedContract(model.name, dataset, text, columns, sources, mapped, findings)


def _columns(model: ModelInfo) -> tuple[list[cols.Column], dict[str, str], list[Finding]]:
    """The contract's columns: the built relation's when known (its order), else the YAML's."""
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    built = {name: normalize_type(t) for name, t in model.relation_types.items()}
    declared = {c.name: c for c in model.columns}
    names = list(built) or list(declared)
    out = []
    for name in names:
        info = declared.get(name)
        yaml_type = normalize_type(info.data_type) if info and info.data_type else None
        if name in built and yaml_type and yaml_type != built[name]:
            findings.append(
                Finding(
                    "reported",
                    f"column {model.name}.{name}",
                    f"YAML declares {yaml_type} but the model builds {built[name]}; the contract "
                    "says what is built (fix the YAML or cast in the SQL)",
                )
            )
        if name in built:
            data_type, sources[name] = built[name], TYPE_FROM_RELATION
            if yaml_type == built[name]:
                sources[name] = TYPE_FROM_YAML
        elif yaml_type:
            data_type, sources[name] = yaml_type, TYPE_FROM_YAML
        else:
            data_type, sources[name] = "", TYPE_UNKNOWN
            findings.append(
                Finding(
                    "reported",
                    f"column {model.name}.{name}",
                    "no data type (none in the YAML, relation not built): the contract checks "
                    "the column is there, not its type",
                )
            )
        if built and info is None:
            findings.append(
                Finding(
                    "reported",
                    f"column {model.name}.{name}",
                    "built by the model but not documented in its YAML",
                )
            )
        description = info.description if info else ""
        out.append(cols.Column(name, data_type, description, name))
    for name in declared:
        if built and name not in built:
            findings.append(
                Finding(
                    "reported",
                    f"column {model.name}.{name}",
                    "documented in the YAML but the model does not build it: not in the contract",
                )
            )
    return out, sources, findings


def _as_written(column: cols.Column) -> cols.Column:
    """The column as the contract file spells it: Soda v4 compares a decimal's precision and
    scale only through separate keys the mesh's contracts do not use, and fails the schema
    check on ``decimal(38,2)``; like ``domains/*/contracts``, the contract says ``decimal``."""
    if column.data_type.startswith("decimal("):
        return dataclasses.replace(column, data_type="decimal")
    return column


def _check(
    test: TestInfo, dataset_of: Callable[[str], str | None]
) -> tuple[dict[str, Any] | None, str]:
    """The Soda check entry a dbt test becomes, or None and why it stays a dbt test."""
    if test.namespace or test.kind not in {
        "not_null",
        "unique",
        "accepted_values",
        "relationships",
    }:
        name = f"{test.namespace}.{test.kind}" if test.namespace else test.kind
        return None, f"`{name}` has no Soda equivalent"
    if test.severity != "error":
        return None, (
            f"severity {test.severity}: a contract check blocks publishing where dbt only warned"
        )
    config: dict[str, Any] = {}
    if test.kind == "not_null":
        kind = "missing"
    elif test.kind == "unique":
        kind = "duplicate"
    elif test.kind == "accepted_values":
        kind = "invalid"
        config["valid_values"] = list(test.arguments.get("values") or [])
    else:
        target = test.refers_to
        referenced = dataset_of(target) if target else None
        if not referenced:
            return None, f"the dataset of {target or test.arguments.get('to')} is not known"
        kind = "invalid"
        config["qualifier"] = _identifier(f"references_{target}")
        config["valid_reference_data"] = {
            "dataset": referenced,
            "column": test.arguments.get("field"),
        }
    if test.where:
        config["filter"] = test.where
    return {kind: config or None}, ""


def _add(column: cols.Column, entry: dict[str, Any]) -> dict[str, Any]:
    """Append a check, qualified when the column already has one of its type and qualifier."""
    ((kind, config),) = entry.items()
    taken = {(k, (c or {}).get("qualifier")) for check in column.checks for k, c in check.items()}
    qualifier = (config or {}).get("qualifier")
    if (kind, qualifier) in taken:
        if config is None and (kind, None) in taken and kind in {"missing", "duplicate"}:
            return column.checks[[next(iter(c)) for c in column.checks].index(kind)]
        n = 2
        while (kind, f"{qualifier or kind}_{n}") in taken:
            n += 1
        config = {**(config or {}), "qualifier": f"{qualifier or kind}_{n}"}
        entry = {kind: config}
    column.checks.append(entry)
    return entry


def _kept(model: ModelInfo, test: TestInfo, why: str) -> Finding:
    return Finding(
        "reported",
        f"test {test.name}",
        f"kept as a dbt test of {model.name}, not in the contract: {why}",
    )


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _default_dataset_of(
    dataset: str, summary: ProjectSummary | None
) -> Callable[[str], str | None]:
    data_source = dataset.split("/")[0]

    def resolve(name: str) -> str | None:
        if summary is None:
            return None
        for model in summary.models:
            if model.name == name:
                return f"{data_source}/{model.schema}/{model.alias or model.name}"
        return None

    return resolve

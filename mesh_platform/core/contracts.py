"""Soda v4 contracts of output ports, parsed once: each check named so Dagster can show it.

The one parser of a contract file; verification (running Soda) is the build's job
(:mod:`mesh_platform.build.verification`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mesh_platform.core import yaml_io
from mesh_platform.core.descriptor import DescriptorError

CONTRACT_CHECK_PREFIX = "contract"
# Keys of a contract column that describe the column itself; the others (`missing_values`,
# `valid_values`, …) are shared configuration of the column's checks.
COLUMN_OWN_KEYS = frozenset(
    {"name", "data_type", "checks", "description", "character_maximum_length"}
)


@dataclass(frozen=True)
class ContractCheck:
    """One check declared in a Soda contract, named so Dagster can show it on its own."""

    name: str
    check_type: str
    column: str | None
    qualifier: str | None
    # The check's own configuration merged over its column's (e.g. `valid_values`,
    # `missing_values`, `expression`): what :mod:`mesh_platform.build.rejects` derives row predicates
    # from. Not part of the check's identity.
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        where = f"column `{self.column}`" if self.column else "dataset"
        return f"{self.check_type} on {where}"


@dataclass(frozen=True)
class ContractSpec:
    path: Path
    dataset: str
    columns: tuple[str, ...]
    checks: tuple[ContractCheck, ...]


@dataclass
class CheckOutcome:
    check: ContractCheck
    passed: bool  # False only for a failure that blocks publishing; a WARN passes
    outcome: str  # Soda's outcome: PASSED, WARN, FAILED, or NOT_EVALUATED
    diagnostics: dict[str, Any] = field(default_factory=dict)  # Soda's
    # the platform's own findings on the check beyond Soda's (a `duplicate` check verified on
    # a day range against the port's other published days: mesh_platform/build/port_uniqueness)
    port_diagnostics: dict[str, Any] = field(default_factory=dict)
    detail: str = ""  # a sentence on why it failed, for the run's message and the Dagster check

    @property
    def warned(self) -> bool:
        """Soda's WARN: the check's warn threshold was crossed, not its fail threshold."""
        return self.outcome == "WARN"


@dataclass
class ContractVerification:
    spec: ContractSpec
    outcomes: list[CheckOutcome]
    errors: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and not self.errors and all(o.passed for o in self.outcomes)

    @property
    def failed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.passed]


def _check_name(check_type: str, column: str | None, qualifier: str | None) -> str:
    parts = [CONTRACT_CHECK_PREFIX, column, check_type, qualifier]
    raw = "__".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9_]", "_", raw)


def read_contract_document(path: Path) -> dict[str, Any]:
    """The contract file as a mapping: the one place a Soda contract's YAML is read.

    :func:`load_contract` validates it and names its checks; the declared schema, the ODCS
    export and the scaffold read other parts of the same document through this function.
    """
    try:
        raw = yaml_io.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DescriptorError(f"contract {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise DescriptorError(f"contract {path} must be a mapping with `dataset` and `columns`")
    return raw


def contract_keys(document: dict[str, Any]) -> set[str]:
    """Columns a contract declares unique (its ``duplicate`` checks): the port's grain."""
    keys: set[str] = set()
    for column in document.get("columns") or []:
        for check in column.get("checks") or []:
            if isinstance(check, dict) and "duplicate" in check:
                keys.add(column["name"])
    for check in document.get("checks") or []:
        if isinstance(check, dict) and "duplicate" in check:
            keys.update((check["duplicate"] or {}).get("columns") or [])
    return keys


def load_contract(path: Path, expected_dataset: str) -> ContractSpec:
    """Parse a Soda contract file and name each of its checks; fail clearly on a bad file."""
    if not path.exists():
        raise DescriptorError(f"contract file {path} does not exist; create it or fix `contract`")
    raw = read_contract_document(path)
    if raw.get("dataset") != expected_dataset:
        raise DescriptorError(
            f"contract {path}: field `dataset` is {raw.get('dataset')!r}, expected "
            f"{expected_dataset!r} (data source/schema/table of the port's dbt model)"
        )
    checks: list[ContractCheck] = []
    columns: list[str] = []
    for column in raw.get("columns") or []:
        columns.append(column["name"])
        shared = {k: v for k, v in column.items() if k not in COLUMN_OWN_KEYS}
        for entry in column.get("checks") or []:
            checks.extend(_parse_check(path, entry, column["name"], shared))
    for entry in raw.get("checks") or []:
        checks.extend(_parse_check(path, entry, None, {}))
    names = [c.name for c in checks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DescriptorError(
            f"contract {path}: checks {dupes} appear twice; give each a distinct `qualifier`"
        )
    if not checks:
        raise DescriptorError(f"contract {path} declares no checks; a contract must verify data")
    return ContractSpec(
        path=path, dataset=expected_dataset, columns=tuple(columns), checks=tuple(checks)
    )


def _parse_check(
    path: Path, entry: Any, column: str | None, shared: dict[str, Any]
) -> list[ContractCheck]:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise DescriptorError(
            f"contract {path}: each check must be a one-key mapping, got {entry!r}"
        )
    ((check_type, config),) = entry.items()
    own = config if isinstance(config, dict) else {}
    qualifier = own.get("qualifier")
    name = _check_name(check_type, column, qualifier)
    return [ContractCheck(name, check_type, column, qualifier, {**shared, **own})]

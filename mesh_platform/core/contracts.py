"""Soda v4 contracts of output ports: their checks as Dagster check specs, and verification.

Verification runs on a DuckDB connection the caller already holds (the domain's own file),
so checks never open the file a second time and never race the pipeline for its lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
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
    passed: bool
    outcome: str
    diagnostics: dict[str, Any] = field(default_factory=dict)


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


@contextlib.contextmanager
def _filtered_contract(path: Path, row_filter: str | None) -> Iterator[Path]:
    """The contract file itself, or a copy of it whose dataset ``filter`` also has
    ``row_filter``."""
    if not row_filter:
        yield path
        return
    raw = yaml_io.safe_load(path.read_text()) or {}
    own = raw.get("filter")
    raw["filter"] = f"({own}) and ({row_filter})" if own else row_filter
    with tempfile.TemporaryDirectory(prefix="mesh-contract-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(yaml.safe_dump(raw, sort_keys=False))
        yield copy


def load_contract(path: Path, expected_dataset: str) -> ContractSpec:
    """Parse a Soda contract file and name each of its checks; fail clearly on a bad file."""
    if not path.exists():
        raise DescriptorError(f"contract file {path} does not exist; create it or fix `contract`")
    raw = yaml_io.safe_load(path.read_text()) or {}
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


def verify_contract(
    connection: Any, spec: ContractSpec, data_source: str, row_filter: str | None = None
) -> ContractVerification:
    """Verify ``spec`` on an open DuckDB connection; every declared check gets an outcome.

    A check Soda did not evaluate counts as failed: Soda reports ``ok=False`` with zero results
    when it cannot read the data, and silence must never publish a port.

    ``row_filter`` (SQL) verifies only the rows it selects — the days a run of a daily port
    built — through Soda's own dataset ``filter`` (ANDed with the contract's, if it has one),
    so checking a day costs O(day), not O(history).
    """
    os.environ.setdefault("SODA_CORE_TELEMETRY_ENABLED", "false")
    from soda_core.contracts import verify_contract_locally
    from soda_duckdb.common.data_sources.duckdb_data_source import DuckDBDataSourceImpl

    source = DuckDBDataSourceImpl.from_existing_cursor(connection, name=data_source)
    with _filtered_contract(spec.path, row_filter) as contract_path:
        result = verify_contract_locally(
            data_sources=[source], contract_file_path=str(contract_path)
        )
    by_key: dict[tuple[str, str | None, str | None], Any] = {}
    for verification in result.contract_verification_results:
        for check_result in verification.check_results:
            check = check_result.check
            key = (
                check.type,
                getattr(check, "column_name", None),
                getattr(check, "qualifier", None),
            )
            by_key[key] = check_result
    outcomes = []
    for check in spec.checks:
        found = by_key.get((check.check_type, check.column, check.qualifier))
        if found is None:
            outcomes.append(CheckOutcome(check, False, "NOT_EVALUATED", {}))
            continue
        outcome = found.outcome.name
        diagnostics = {
            k: v for k, v in (found.diagnostic_metric_values or {}).items() if v is not None
        }
        outcomes.append(CheckOutcome(check, outcome in {"PASSED", "WARN"}, outcome, diagnostics))
    errors = result.get_errors_str() if result.has_errors else ""
    return ContractVerification(spec=spec, outcomes=outcomes, errors=errors)

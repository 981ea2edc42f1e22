"""Verifying a port's Soda v4 contract on the pipeline's own DuckDB connection.

Verification runs on a connection the caller already holds (the domain's own file), so checks
never open the file a second time and never race the pipeline for its lock.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mesh_platform.core import yaml_io
from mesh_platform.core.contracts import CheckOutcome, ContractSpec, ContractVerification


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

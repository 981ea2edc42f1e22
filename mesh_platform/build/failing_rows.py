"""A small sample of the rows a failed contract check found bad, for the check in Dagster.

Counts say that a check failed; a few failing keys say where to look. The platform queries
the built relation (on the step's own connection, before anything is published) with the
check's own predicate (:func:`mesh_platform.build.rejects.row_predicate`, the one the rejects
split uses) and shows at most :data:`SAMPLE_ROWS` rows: the port's key columns and the
checked column. Personal data never leaves the domain's owners' view: a column classified as
personal data (dbt ``meta.pii``), or one whose name says it is and that nobody classified, is
masked, key or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from mesh_platform.build.rejects import UnsupportedCheck, row_predicate
from mesh_platform.core.contracts import CheckOutcome, ContractSpec
from mesh_platform.core.sql import quote_ident
from mesh_platform.governance.context import column_meta

SAMPLE_ROWS = 5
MASK = "••• (personal data)"
_BAD = "__mesh_failing"


def key_columns(spec: ContractSpec, columns: list[str]) -> list[str]:
    """The port's key: the columns of its contract's ``duplicate`` checks (a unique key),
    else its first column."""
    keys: list[str] = []
    for check in spec.checks:
        if check.check_type != "duplicate":
            continue
        names = [check.column] if check.column else list(check.config.get("columns") or [])
        keys += [n for n in names if n not in keys]
    return keys or columns[:1]


def is_personal(name: str, column: Mapping[str, Any], personal_data: Any) -> bool:
    """Classified as personal data (``pii: {...}``), or unclassified with a name that says so."""
    pii = column_meta(column).get("pii")
    if isinstance(pii, Mapping):
        return True
    if pii is False:
        return False
    return bool(personal_data and personal_data.category_of(name, column.get("data_type")))


def failing_rows_metadata(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    outcome: CheckOutcome,
    spec: ContractSpec,
    model_columns: Mapping[str, Mapping[str, Any]],
    personal_data: Any,
    row_filter: str | None = None,
) -> dict[str, Any]:
    """Metadata for a failed check: a markdown table of failing rows, or nothing when the
    check is not decided row by row (``row_count``, ``schema``) or no row can be shown."""
    import dagster as dg

    try:
        predicate = row_predicate(outcome.check)
    except UnsupportedCheck:
        return {}
    columns = list(model_columns) or list(spec.columns)
    shown = key_columns(spec, columns)
    if outcome.check.column and outcome.check.column not in shown:
        shown.append(outcome.check.column)
    select = ", ".join(quote_ident(c) for c in shown)
    # the predicate may be a window (``duplicate``): computed as a column, then filtered
    where = f" where {row_filter}" if row_filter else ""
    query = (
        f"select {select} from (select *, {predicate} as {_BAD} from {relation}{where}) "  # noqa: S608
        f"where {_BAD} limit {SAMPLE_ROWS}"
    )
    try:
        rows = con.execute(query).fetchall()
    except duckdb.Error as exc:
        return {"mesh/failing_rows_sample": f"could not be queried: {str(exc).splitlines()[0]}"}
    if not rows:
        return {}
    masked = [c for c in shown if is_personal(c, model_columns.get(c, {}), personal_data)]
    header = "| " + " | ".join(shown) + " |\n|" + "---|" * len(shown)
    body = "\n".join(
        "| "
        + " | ".join(MASK if c in masked else _cell(v) for c, v in zip(shown, row, strict=True))
        + " |"
        for row in rows
    )
    note = f"\n\nFirst {len(rows)} failing row(s): key column(s) and `{outcome.check.column}`."
    if not outcome.check.column:
        note = f"\n\nFirst {len(rows)} failing row(s), by key."
    if masked:
        note += f" Masked as personal data: {', '.join(f'`{c}`' for c in masked)}."
    return {"mesh/failing_rows_sample": dg.MetadataValue.md(header + "\n" + body + note)}


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "…"

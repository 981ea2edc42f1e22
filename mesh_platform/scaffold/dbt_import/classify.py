"""Suggested personal-data classification of an imported port's columns.

The same rule as ``mesh new product`` (:func:`scaffold.columns.classify`): a column whose name
matches one of ``governance/personal_data.yaml``'s ``column_patterns`` is personal data, hashed by
default (the safe choice). Two differences, because an imported model already exists: a
classification its YAML declares (``meta.pii``) is kept as it is; and a name match on a numeric
or temporal column is suggested as ``pii: false`` for the team to confirm — a
``credit_card_amount`` is an amount, not a card number, and hashing it would break the model.
These are suggestions: the import writes them into the model YAML for review, it changes no SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mesh_platform.core.declared_schema import normalize_type
from mesh_platform.governance.config import GovernanceConfig
from mesh_platform.scaffold import columns as cols
from mesh_platform.scaffold.dbt_import.summary import ModelInfo

_NOT_TEXT = [
    "tinyint",
    "smallint",
    "integer",
    "int",
    "bigint",
    "hugeint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "decimal",
    "numeric",
    "double",
    "float",
    "real",
    "boolean",
    "date",
    "timestamp",
    "time",
    "interval",
]


@dataclass(frozen=True)
class Suggestion:
    column: str
    pii: Any  # None: not personal by name; False: confirm not personal; {category, treatment}
    source: str  # "declared" (the model's YAML) | "name" (governance column_patterns) | "none"
    reason: str


def suggest_classification(
    model: ModelInfo, columns: Sequence[cols.Column], config: GovernanceConfig
) -> list[Suggestion]:
    """One suggestion per contract column of ``model`` (``columns``: the contract's columns)."""
    declared: Mapping[str, Any] = {
        c.name: c.meta["pii"] for c in model.columns if "pii" in (c.meta or {})
    }
    out = []
    for column in columns:
        if column.name in declared:
            out.append(
                Suggestion(column.name, declared[column.name], "declared", "the model's YAML")
            )
            continue
        probe = cols.Column(column.name, column.data_type, "", column.name)
        cols.classify([probe], config)  # the scaffold's own rule, on a throwaway copy
        category = (probe.pii or {}).get("category")
        if not category:
            out.append(Suggestion(column.name, None, "none", "no personal-data pattern matches"))
        elif _not_text(column.data_type):
            out.append(
                Suggestion(
                    column.name,
                    False,
                    "name",
                    f"the name looks like {category} but the column is {column.data_type}: "
                    "confirm it is not personal data",
                )
            )
        else:
            out.append(
                Suggestion(
                    column.name,
                    probe.pii,
                    "name",
                    f"the name looks like {category}: hash it ({{ mesh.hash(...) }}) or classify it",
                )
            )
    return out


def _not_text(data_type: str) -> bool:
    base = normalize_type(data_type).split("(")[0] if data_type else ""
    return any(base.startswith(t) for t in _NOT_TEXT)

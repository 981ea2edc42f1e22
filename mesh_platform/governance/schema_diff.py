"""Classify the differences between two schemas of one output port as breaking or not.

The mesh's versioning policy: a *breaking* change to a published port needs a new major
version, because consumers in other domains read the port as a dbt source and cannot be
changed in the same commit. This module decides what "breaking" means, as pure functions over
two :class:`PortSchema` values, so the CLI (``mesh diff``), lint and the publish step all
classify the same change the same way.

The rules, from a consumer's point of view (a consumer selects named columns, relies on their
type, on a declared NOT NULL and on the grain to join without fan-out):

==========================  ========  =========================================================
kind                        breaking  why
==========================  ========  =========================================================
column_added                no        consumers select columns by name; a new one is invisible
column_removed              yes       every query naming it fails
column_renamed              yes       same as a removal for consumers (reported once, old→new)
type_widened                no        every value a consumer could read still fits
type_changed                yes       casts, arithmetic, comparisons or joins may fail or drift
nullability_tightened       yes       see :data:`TIGHTENED_WHY`
nullability_relaxed         yes       consumers relied on the NOT NULL guarantee
grain_changed               yes       joins on the old key fan out or lose rows
description_changed         no        documentation only
==========================  ========  =========================================================

Widening (:func:`is_widening`) is deliberately narrow: integers to a larger integer, ``float``
to ``double``, and ``decimal(p,s)`` to ``decimal(p2,s)`` with ``p2 > p`` (same scale: more
digits, same rendering). Anything to ``varchar`` is *not* widening even though every value
converts: a consumer typed on a number or a date would silently compare text, sort
lexicographically and lose arithmetic. ``bigint``→``double`` is not widening either (it loses
precision above 2^53), nor is ``date``→``timestamp`` (a different meaning for a day).

A rename is recognised only when a removed and an added column have the same type at the same
position; anything looser would guess, and a wrong guess would hide a removal.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from mesh_platform.core.declared_schema import ColumnSchema, PortSchema

COLUMN_ADDED = "column_added"
COLUMN_REMOVED = "column_removed"
COLUMN_RENAMED = "column_renamed"
TYPE_WIDENED = "type_widened"
TYPE_CHANGED = "type_changed"
NULLABILITY_TIGHTENED = "nullability_tightened"
NULLABILITY_RELAXED = "nullability_relaxed"
GRAIN_CHANGED = "grain_changed"
DESCRIPTION_CHANGED = "description_changed"

BREAKING_KINDS = frozenset(
    {
        COLUMN_REMOVED,
        COLUMN_RENAMED,
        TYPE_CHANGED,
        NULLABILITY_TIGHTENED,
        NULLABILITY_RELAXED,
        GRAIN_CHANGED,
    }
)

TIGHTENED_WHY = (
    "a major version is one stream of data over time: the snapshots already published as this "
    "major, the history consumers copied from it, and backfills of earlier days may hold nulls, "
    "so the new NOT NULL would be a promise the major cannot keep across its history — and a "
    "consumer that unions or backfills into a table with the new constraint fails on them"
)
RELAXED_WHY = (
    "consumers relied on the NOT NULL guarantee (inner joins, arithmetic, NOT NULL columns of "
    "their own enforced contracts); nulls would drop rows or fail their builds"
)

_INTEGER_WIDTHS = ("tinyint", "smallint", "integer", "bigint", "hugeint")
_FLOAT_WIDTHS = ("float", "double")
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class Change:
    """One difference between two schemas of a port; ``column`` is None for the grain."""

    kind: str
    column: str | None
    old: str | None
    new: str | None
    breaking: bool
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """Short text for messages: ``column_removed `device` (varchar → -)``."""
        where = f" `{self.column}`" if self.column else ""
        return f"{self.kind}{where} ({self.old or '-'} → {self.new or '-'})"


def is_widening(old_type: str, new_type: str) -> bool:
    """Whether every value of ``old_type`` is read unchanged as ``new_type`` (see module doc)."""
    for family in (_INTEGER_WIDTHS, _FLOAT_WIDTHS):
        if old_type in family and new_type in family:
            return family.index(new_type) > family.index(old_type)
    old_dec, new_dec = _DECIMAL.match(old_type), _DECIMAL.match(new_type)
    if old_dec and new_dec:
        (p1, s1), (p2, s2) = map(int, old_dec.groups()), map(int, new_dec.groups())
        return s1 == s2 and p2 > p1
    return False


def _change(kind: str, column: str | None, old: Any, new: Any, explanation: str) -> Change:
    return Change(
        kind=kind,
        column=column,
        old=None if old is None else str(old),
        new=None if new is None else str(new),
        breaking=kind in BREAKING_KINDS,
        explanation=explanation,
    )


def _pair_renames(
    old: PortSchema, new: PortSchema
) -> tuple[list[ColumnSchema], list[ColumnSchema], dict[str, str]]:
    """Removed and added columns, minus the pairs recognised as renames (old name → new)."""
    old_names = {c.name for c in old.columns}
    new_names = {c.name for c in new.columns}
    removed = {i: c for i, c in enumerate(old.columns) if c.name not in new_names}
    added = {i: c for i, c in enumerate(new.columns) if c.name not in old_names}
    renames = {
        removed[i].name: added[i].name
        for i in sorted(removed.keys() & added.keys())
        if removed[i].data_type == added[i].data_type
    }
    return (
        [c for c in removed.values() if c.name not in renames],
        [c for c in added.values() if c.name not in renames.values()],
        renames,
    )


def _column_changes(before: ColumnSchema, after: ColumnSchema) -> list[Change]:
    changes = []
    name = after.name
    if before.data_type != after.data_type:
        if is_widening(before.data_type, after.data_type):
            changes.append(
                _change(
                    TYPE_WIDENED,
                    name,
                    before.data_type,
                    after.data_type,
                    "every value consumers read before still fits the wider type",
                )
            )
        else:
            changes.append(
                _change(
                    TYPE_CHANGED,
                    name,
                    before.data_type,
                    after.data_type,
                    "consumers typed on the old type may fail to cast, compare or join, or "
                    "silently get different results",
                )
            )
    if before.nullable and not after.nullable:
        changes.append(_change(NULLABILITY_TIGHTENED, name, "nullable", "not null", TIGHTENED_WHY))
    elif not before.nullable and after.nullable:
        changes.append(_change(NULLABILITY_RELAXED, name, "not null", "nullable", RELAXED_WHY))
    if before.description != after.description:
        changes.append(
            _change(
                DESCRIPTION_CHANGED,
                name,
                before.description,
                after.description,
                "documentation only; the data consumers read is unchanged",
            )
        )
    return changes


def diff_port_schemas(old: PortSchema, new: PortSchema) -> list[Change]:
    """Every change from ``old`` to ``new``, each classified; empty when they are equivalent.

    Order: removals and renames (old column order), then per-column changes and additions
    (new column order), then the grain.
    """
    removed, added, renames = _pair_renames(old, new)
    changes = [
        _change(
            COLUMN_REMOVED,
            c.name,
            c.data_type,
            None,
            "every consumer query naming this column fails",
        )
        for c in removed
    ]
    changes += [
        _change(
            COLUMN_RENAMED,
            old_name,
            old_name,
            new_name,
            f"consumers select `{old_name}`, which no longer exists; to them a rename is a removal",
        )
        for old_name, new_name in renames.items()
    ]
    new_name_of = {c.name: renames.get(c.name, c.name) for c in old.columns}
    before_by_new_name = {new_name_of[c.name]: c for c in old.columns}
    added_names = {c.name for c in added}
    for column in new.columns:
        if column.name in added_names:
            changes.append(
                _change(
                    COLUMN_ADDED,
                    column.name,
                    None,
                    column.data_type,
                    "consumers select columns by name; a new column is invisible to them",
                )
            )
        elif column.name in before_by_new_name:
            changes += _column_changes(before_by_new_name[column.name], column)
    old_grain = {new_name_of.get(c, c) for c in old.grain}  # a renamed key is still the key
    if old_grain != set(new.grain):
        changes.append(
            _change(
                GRAIN_CHANGED,
                None,
                ", ".join(old.grain) or "(none declared)",
                ", ".join(new.grain) or "(none declared)",
                "one row no longer means the same thing: consumers joining or aggregating on "
                "the old key would fan out or lose rows",
            )
        )
    return changes


def breaking_changes(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.breaking]

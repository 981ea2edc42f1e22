"""Breaking-change classification: each kind of schema change, breaking or not, exactly."""

from __future__ import annotations

import pytest

from mesh_platform.core.declared_schema import ColumnSchema, PortSchema
from mesh_platform.governance.schema_diff import (
    BREAKING_KINDS,
    Change,
    diff_port_schemas,
    is_widening,
)

BASE_COLUMNS = (
    ColumnSchema("event_id", "varchar", False, "Identifier of the play."),
    ColumnSchema("listener_id", "bigint", False, "The listener."),
    ColumnSchema("plays", "integer", True, "Number of plays."),
    ColumnSchema("amount", "decimal(12,2)", True, "Amount in euros."),
    ColumnSchema("share", "float", True, "Share of plays."),
    ColumnSchema("device", "varchar", True, "Device family."),
)
BASE = PortSchema("playback.play_events", 1, BASE_COLUMNS, ("event_id",), None)


def with_columns(*columns: ColumnSchema, grain: tuple[str, ...] = ("event_id",)) -> PortSchema:
    return PortSchema(BASE.address, BASE.version, tuple(columns), grain, None)


def replaced(name: str, **changes) -> PortSchema:
    cols = tuple(
        ColumnSchema(**{**c.__dict__, **changes}) if c.name == name else c for c in BASE_COLUMNS
    )
    return with_columns(*cols)


def kinds(changes: list[Change]) -> list[tuple[str, str | None, bool]]:
    return [(c.kind, c.column, c.breaking) for c in changes]


def test_identical_schemas_have_no_changes():
    assert diff_port_schemas(BASE, BASE) == []


def test_column_added_is_not_breaking():
    new = with_columns(*BASE_COLUMNS, ColumnSchema("country_code", "varchar", True, "Country."))
    (change,) = diff_port_schemas(BASE, new)
    assert (change.kind, change.column, change.breaking) == ("column_added", "country_code", False)
    assert (change.old, change.new) == (None, "varchar")


def test_column_removed_is_breaking():
    new = with_columns(*(c for c in BASE_COLUMNS if c.name != "device"))
    assert kinds(diff_port_schemas(BASE, new)) == [("column_removed", "device", True)]


def test_column_renamed_is_breaking_and_reported_once():
    new = with_columns(
        *(
            ColumnSchema("device_family", c.data_type, c.nullable, c.description)
            if c.name == "device"
            else c
            for c in BASE_COLUMNS
        )
    )
    (change,) = diff_port_schemas(BASE, new)
    assert (change.kind, change.column, change.breaking) == ("column_renamed", "device", True)
    assert (change.old, change.new) == ("device", "device_family")


def test_a_remove_and_add_with_another_type_is_not_a_rename():
    new = with_columns(
        *(
            ColumnSchema("ms", "bigint", True, "x") if c.name == "device" else c
            for c in BASE_COLUMNS
        )
    )
    assert kinds(diff_port_schemas(BASE, new)) == [
        ("column_removed", "device", True),
        ("column_added", "ms", False),
    ]


def test_a_remove_and_add_at_different_positions_is_not_a_rename():
    others = [c for c in BASE_COLUMNS if c.name != "device"]
    new = with_columns(ColumnSchema("platform", "varchar", True, "x"), *others)
    assert kinds(diff_port_schemas(BASE, new)) == [
        ("column_removed", "device", True),
        ("column_added", "platform", False),
    ]


def test_renamed_key_column_is_not_also_a_grain_change():
    new = with_columns(
        ColumnSchema("play_id", "varchar", False, "Identifier of the play."),
        *BASE_COLUMNS[1:],
        grain=("play_id",),
    )
    assert kinds(diff_port_schemas(BASE, new)) == [("column_renamed", "event_id", True)]


@pytest.mark.parametrize(
    ("column", "new_type"),
    [("plays", "bigint"), ("share", "double"), ("amount", "decimal(18,2)")],
)
def test_type_widened_is_not_breaking(column, new_type):
    (change,) = diff_port_schemas(BASE, replaced(column, data_type=new_type))
    assert (change.kind, change.column, change.breaking) == ("type_widened", column, False)


@pytest.mark.parametrize(
    ("column", "new_type"),
    [
        ("plays", "varchar"),  # anything → varchar: consumers typed on a number lose it
        ("listener_id", "integer"),  # narrowing
        ("listener_id", "double"),  # bigint → double loses precision
        ("amount", "decimal(12,4)"),  # another scale
        ("amount", "decimal(10,2)"),  # fewer digits
        ("device", "integer"),
    ],
)
def test_type_changed_is_breaking(column, new_type):
    (change,) = diff_port_schemas(BASE, replaced(column, data_type=new_type))
    assert (change.kind, change.column, change.breaking) == ("type_changed", column, True)


def test_nullability_tightened_is_breaking_and_says_why():
    (change,) = diff_port_schemas(BASE, replaced("device", nullable=False))
    assert (change.kind, change.column, change.breaking) == (
        "nullability_tightened",
        "device",
        True,
    )
    assert (change.old, change.new) == ("nullable", "not null")
    assert "history" in change.explanation and "nulls" in change.explanation


def test_nullability_relaxed_is_breaking():
    (change,) = diff_port_schemas(BASE, replaced("listener_id", nullable=True))
    assert (change.kind, change.column, change.breaking) == (
        "nullability_relaxed",
        "listener_id",
        True,
    )
    assert "guarantee" in change.explanation


def test_grain_changed_is_breaking():
    new = with_columns(*BASE_COLUMNS, grain=("event_id", "device"))
    (change,) = diff_port_schemas(BASE, new)
    assert (change.kind, change.column, change.breaking) == ("grain_changed", None, True)
    assert (change.old, change.new) == ("event_id", "event_id, device")


def test_grain_dropped_is_breaking():
    (change,) = diff_port_schemas(BASE, with_columns(*BASE_COLUMNS, grain=()))
    assert (change.kind, change.breaking, change.new) == ("grain_changed", True, "(none declared)")


def test_description_changed_is_not_breaking():
    (change,) = diff_port_schemas(BASE, replaced("device", description="Device family, lower."))
    assert (change.kind, change.column, change.breaking) == ("description_changed", "device", False)


def test_several_changes_on_one_column_are_each_reported():
    new = replaced("plays", data_type="bigint", nullable=False)
    assert kinds(diff_port_schemas(BASE, new)) == [
        ("type_widened", "plays", False),
        ("nullability_tightened", "plays", True),
    ]


def test_breaking_kinds_are_exactly_the_policys():
    assert sorted(BREAKING_KINDS) == [
        "column_removed",
        "column_renamed",
        "grain_changed",
        "nullability_relaxed",
        "nullability_tightened",
        "type_changed",
    ]


@pytest.mark.parametrize(
    ("old", "new", "widening"),
    [
        ("tinyint", "hugeint", True),
        ("bigint", "integer", False),
        ("float", "double", True),
        ("double", "float", False),
        ("integer", "double", False),
        ("date", "timestamp", False),
        ("integer", "varchar", False),
        ("decimal(12,2)", "decimal(13,2)", True),
        ("decimal(12,2)", "decimal(13,3)", False),
        ("integer", "integer", False),
    ],
)
def test_is_widening(old, new, widening):
    assert is_widening(old, new) is widening

"""Declared port schemas are read from the files (dbt model YAML + Soda contract) alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesh_platform.core.declared_schema import (
    ColumnSchema,
    PortSchema,
    declared_port_schema,
    declared_port_schemas,
    normalize_type,
)
from mesh_platform.core.domain import load_all_domains
from mesh_platform.ports.records import (
    read_published_schema,
    write_published_schema,
)

from ..conftest import REPO


@pytest.fixture(scope="module")
def schemas() -> dict[tuple[str, int], PortSchema]:
    return declared_port_schemas(REPO)


def test_every_declared_port_of_daff_extracts(schemas):
    declared = {
        (product.address(port), port.version)
        for domain in load_all_domains(REPO / "domains")
        for product in domain.products
        for port in product.output_ports
    }
    assert set(schemas) == declared
    for schema in schemas.values():
        assert schema.columns, schema.address
        assert schema.grain, f"{schema.address} declares no key (Soda duplicate check)"
        assert all(c.data_type == normalize_type(c.data_type) for c in schema.columns)
        assert set(schema.grain) <= {c.name for c in schema.columns}, schema.address


def test_listener_profiles_key_is_not_nullable_and_in_the_grain(schemas):
    schema = schemas[("listeners.listener_profiles", 1)]
    listener_id = schema.column("listener_id")
    assert listener_id == ColumnSchema(
        "listener_id",
        "bigint",
        False,
        "Identifier of the listener; the key other domains join on.",
    )
    assert "listener_id" in schema.grain
    assert schema.column("birth_year").nullable  # no not_null constraint
    assert schema.column("birth_year").data_type == "integer"


def test_dataset_level_duplicate_check_is_a_composite_grain(schemas):
    assert schemas[("playback.daily_track_plays", 1)].grain == (
        "event_date",
        "track_id",
        "country_code",
    )


def test_decimal_type_is_kept_with_precision(schemas):
    assert schemas[("artists.artist_payments", 1)].column("amount_eur").data_type == (
        "decimal(12,2)"
    )


def test_declared_port_schema_of_one_port(schemas):
    domain = next(d for d in load_all_domains(REPO / "domains") if d.name == "playback")
    product = next(p for p in domain.products if p.name == "play_events")
    schema = declared_port_schema(REPO, product, product.output_ports[0])
    assert schema == schemas[("playback.play_events", 1)]
    assert schema.grain == ("event_id",)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("INT4", "integer"),
        ("int", "integer"),
        ("int8", "bigint"),
        ("Text", "varchar"),
        ("string", "varchar"),
        ("varchar(255)", "varchar"),
        ("float8", "double"),
        ("double precision", "double"),
        ("real", "float"),
        ("bool", "boolean"),
        ("numeric(12, 2)", "decimal(12,2)"),
        ("decimal", "decimal(18,3)"),
        ("timestamp with time zone", "timestamptz"),
        ("date", "date"),
    ],
)
def test_type_aliases_collapse(raw, normal):
    assert normalize_type(raw) == normal


def test_published_schema_round_trip(tmp_path, schemas):
    ports_dir = tmp_path / "ports"
    schema = schemas[("listeners.listener_profiles", 1)]
    path = Path(write_published_schema(ports_dir, schema))
    # beside the port's Iceberg table
    assert path == ports_dir / "listeners" / "listener_profiles" / "v1" / "mesh" / "schema.json"
    assert read_published_schema(ports_dir, "listeners", "listener_profiles", 1) == schema
    assert json.loads(path.read_text())["grain"] == list(schema.grain)
    assert [p.name for p in path.parent.iterdir()] == ["schema.json"]  # no temp file left
    assert read_published_schema(ports_dir, "listeners", "listener_profiles", 2) is None


def test_rewriting_replaces_the_record(tmp_path):
    ports_dir = tmp_path / "ports"
    first = PortSchema("a.b", 1, (ColumnSchema("x", "integer", False, ""),), ("x",), None)
    second = PortSchema("a.b", 1, first.columns, ("x",), "2027-01-31")
    write_published_schema(ports_dir, first)
    write_published_schema(ports_dir, second)
    assert read_published_schema(ports_dir, "a", "b", 1) == second
    assert PortSchema.from_json(second.to_json()) == second

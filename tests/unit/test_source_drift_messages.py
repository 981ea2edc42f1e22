"""The messages of a step whose sources drifted (build/source_drift.py): one per output port
held back, and one naming the models when the run built none of the domain's ports (a run of
internal models only must not pass with nothing built and nothing said)."""

from __future__ import annotations

from types import SimpleNamespace

from mesh_platform.build.source_drift import StepDrift, drift_failures
from mesh_platform.core.source_schema import ColumnChange, SourceDrift

TRACKS = "source.shop.crm.tracks"
DRIFT = SourceDrift(
    TRACKS,
    "crm.tracks",
    "dbt_project/shop/models/staging/_sources.yml",
    [ColumnChange("title", "missing", declared="varchar")],
)


def _bindings() -> SimpleNamespace:
    nodes = {
        "model.shop.stg_tracks": {"name": "stg_tracks"},
        "model.shop.catalog": {"name": "catalog"},
    }
    ports = {
        "model.shop.catalog": SimpleNamespace(
            product=SimpleNamespace(domain="shop", name="catalog"),
            address="shop.catalog",
            port=SimpleNamespace(version=2),
        )
    }
    return SimpleNamespace(
        domain=SimpleNamespace(name="shop"), manifest={"nodes": nodes}, ports=ports
    )


def test_a_held_back_port_gets_its_own_message():
    drift = StepDrift(
        {TRACKS: DRIFT}, {"model.shop.stg_tracks": {TRACKS}, "model.shop.catalog": {TRACKS}}
    )
    (message,) = drift_failures(_bindings(), drift)
    assert message.startswith(
        "domain shop, product catalog: output port shop.catalog v2 failed its source schema "
        "check — source crm.tracks no longer has the columns it declares"
    )
    assert "  - source crm.tracks: column `title` (declared varchar) is missing" in message
    assert "update the columns of crm.tracks in dbt_project/shop/models/staging/_sources.yml" in (
        message
    )


def test_internal_models_held_back_alone_are_named():
    drift = StepDrift({TRACKS: DRIFT}, {"model.shop.stg_tracks": {TRACKS}})
    (message,) = drift_failures(_bindings(), drift)
    assert message.startswith(
        "domain shop: model stg_tracks was NOT built: source crm.tracks no longer has the "
        "columns it declares."
    )
    assert "  - source crm.tracks: column `title` (declared varchar) is missing" in message
    assert "otherwise fix the export of crm. Then rerun." in message


def test_nothing_held_back_says_nothing():
    assert drift_failures(_bindings(), StepDrift()) == []

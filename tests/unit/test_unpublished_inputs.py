"""A consumer built before its producer published: which models are held back, and the message
that tells the user what to run first (or which major version to move to)."""

from __future__ import annotations

from types import SimpleNamespace

from mesh_platform.build.unpublished_inputs import (
    MissingPort,
    missing_ports,
    unpublished_failures,
    unpublished_inputs,
)
from mesh_platform.core.address import PortAddress
from mesh_platform.core.bindings import UpstreamPort
from tests.ports_support import publish_one_row

CATALOG = "source.recs.artists_ports.track_catalog"
PLAYS = "source.recs.playback_ports.play_events"


def _model(name: str, *parents: str) -> tuple[str, dict]:
    uid = f"model.recs.{name}"
    node = {
        "name": name,
        "resource_type": "model",
        "mesh_domain": "recs",
        "depends_on": {"nodes": list(parents)},
    }
    return uid, node


def _bindings() -> SimpleNamespace:
    """recs: top_tracks reads the track catalog (through stg_tracks) and the plays;
    plays_per_day reads the plays only."""
    nodes = dict(
        [
            _model("stg_tracks", CATALOG),
            _model("stg_plays", PLAYS),
            _model("top_tracks", "model.recs.stg_tracks", "model.recs.stg_plays"),
            _model("plays_per_day", "model.recs.stg_plays"),
        ]
    )
    upstream = {
        CATALOG: UpstreamPort(PortAddress("artists", "track_catalog"), 1, None, False),
        PLAYS: UpstreamPort(PortAddress("playback", "play_events"), 1, None, False),
    }
    ports = {
        f"model.recs.{name}": SimpleNamespace(
            product=SimpleNamespace(domain="recs", name=name),
            address=f"recs.{name}",
            port=SimpleNamespace(version=1),
        )
        for name in ("top_tracks", "plays_per_day")
    }
    return SimpleNamespace(
        domain=SimpleNamespace(name="recs"),
        manifest={"nodes": nodes},
        upstream=upstream,
        ports=ports,
    )


def _missing(address: str, *published: int) -> MissingPort:
    return MissingPort(PortAddress.parse(address), 1, published)


def test_only_the_models_built_from_the_missing_port_are_held_back():
    bindings = _bindings()
    selected = set(bindings.manifest["nodes"])

    held = unpublished_inputs(bindings, selected, [_missing("artists.track_catalog")])

    assert held.models == {"model.recs.stg_tracks", "model.recs.top_tracks"}
    assert held.reads["model.recs.top_tracks"] == {CATALOG}


def test_nothing_is_held_back_when_every_port_is_published_or_not_selected():
    bindings = _bindings()
    assert not unpublished_inputs(bindings, set(bindings.manifest["nodes"]), []).models
    only_plays = {"model.recs.stg_plays", "model.recs.plays_per_day"}
    missing = [_missing("artists.track_catalog")]
    assert not unpublished_inputs(bindings, only_plays, missing).models


def test_a_held_back_port_says_what_it_waits_for_and_what_to_run():
    bindings = _bindings()
    held = unpublished_inputs(
        bindings, set(bindings.manifest["nodes"]), [_missing("artists.track_catalog")]
    )

    assert unpublished_failures(bindings, held) == [
        "domain recs, product top_tracks: output port recs.top_tracks v1 was NOT built or "
        "published: it reads artists.track_catalog v1, which has never been published. "
        "Materialize artists first (`mesh materialize artists`, or its code location in "
        "Dagster), then rerun."
    ]


def test_two_missing_producers_are_named_together():
    bindings = _bindings()
    missing = [_missing("artists.track_catalog"), _missing("playback.play_events")]
    held = unpublished_inputs(bindings, set(bindings.manifest["nodes"]), missing)

    per_day, top = unpublished_failures(bindings, held)  # by model id

    assert top.startswith("domain recs, product top_tracks: output port recs.top_tracks v1")
    assert (
        "it reads artists.track_catalog v1 and playback.play_events v1, which have never been "
        "published. Materialize artists and playback first (`mesh materialize artists "
        "playback`, or their code locations in Dagster), then rerun." in top
    )
    assert "it reads playback.play_events v1, which has never been published" in per_day


def test_a_producer_publishing_another_major_only_says_which():
    bindings = _bindings()
    missing = [_missing("artists.track_catalog", 2), _missing("playback.play_events")]
    held = unpublished_inputs(bindings, {"model.recs.top_tracks"}, missing)

    (top,) = unpublished_failures(bindings, held)

    assert top.endswith(
        "it reads playback.play_events v1, which has never been published, and "
        "artists.track_catalog v1, which is not published (artists publishes v2 only: move the "
        "source to v2 or ask artists to keep v1). Materialize playback first (`mesh "
        "materialize playback`, or its code location in Dagster), then rerun."
    )
    held = unpublished_inputs(bindings, {"model.recs.top_tracks"}, missing[:1])
    assert unpublished_failures(bindings, held)[0].endswith(
        "artists.track_catalog v1, which is not published (artists publishes v2 only: move the "
        "source to v2 or ask artists to keep v1). Then rerun."
    )


def test_held_back_models_without_a_port_still_fail_the_step_by_name():
    bindings = _bindings()
    missing = [_missing("artists.track_catalog")]
    held = unpublished_inputs(bindings, {"model.recs.stg_tracks"}, missing)

    assert unpublished_failures(bindings, held) == [
        "domain recs: model stg_tracks was NOT built: it reads artists.track_catalog v1, which "
        "has never been published. Materialize artists first (`mesh materialize artists`, or "
        "its code location in Dagster), then rerun."
    ]


def test_missing_ports_name_the_majors_the_producer_publishes(tmp_path):
    """Read from a real port store: artists publishes track_catalog v2 and artist_profiles v1."""
    catalog_v2 = publish_one_row(tmp_path, "artists.track_catalog", 2)
    profiles = publish_one_row(tmp_path, "artists.artist_profiles", 1)
    upstream = {
        ("artists.track_catalog", 1): None,
        ("artists.artist_profiles", 1): profiles,
        ("playback.play_events", 1): None,
    }

    assert missing_ports(tmp_path, upstream) == [
        _missing("artists.track_catalog", 2),
        _missing("playback.play_events"),
    ]
    assert missing_ports(tmp_path, {("artists.track_catalog", 2): catalog_v2}) == []
    assert missing_ports(tmp_path / "fresh", {("playback.play_events", 1): None}) == [
        _missing("playback.play_events")
    ]

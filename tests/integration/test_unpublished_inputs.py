"""A consumer domain built on a fresh data dir before its producer ever published: artists reads
playback.play_events (for artist_royalties) and nothing else of another domain. The build holds
back artist_royalties with a message saying what to run first, instead of DuckDB's "No files
found that match the pattern"; artists' other products build and publish.

One build covers the combination with source drift too (issue 27 A's payments export gaining a
column, as in test_source_drift.py): both hold back their models in the same dbt build."""

from __future__ import annotations

import pytest

from mesh_platform.core.environment import apply_tool_env
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.runner import materialize_mesh
from tests.conftest import TEST_SCALE
from tests.integration.test_source_drift import add_currency

pytestmark = pytest.mark.slow

WAITS_FOR_PLAYBACK = (
    "domain artists, product artist_royalties: output port artists.artist_royalties v1 was NOT "
    "built or published: it reads playback.play_events v1, which has never been published. "
    "Materialize playback first (`mesh materialize playback`, or its code location in "
    "Dagster), then rerun."
)


@pytest.fixture
def fresh_env(tmp_path, monkeypatch):
    """Daff's operational data generated, nothing built or published yet."""
    from operational import generate

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = apply_tool_env()
    generate(env.operational_dir, scale=TEST_SCALE)
    return env


def test_a_consumer_built_before_its_producer_says_what_to_run_first(fresh_env):
    env = fresh_env
    add_currency(env.operational_dir / "artist_management" / "payments.csv")

    (run,) = materialize_mesh(only=["artists"])

    assert not run.success
    message = "\n".join(run.errors)
    assert WAITS_FOR_PLAYBACK in message
    assert "No files found" not in message and "dbt build failed" not in message
    # the drifted source holds back its own product in the same build, with its own message
    assert "domain artists, product artist_payments" in message
    assert "column `currency` (VARCHAR) is new" in message
    for held_back in ("artist_royalties", "artist_payments"):
        assert f"artists/{held_back}" not in run.materialized
        assert current_snapshot(env.ports_dir, "artists", held_back, 1) is None
    # the products reading neither build and publish
    assert {"artists/artist_profiles", "artists/track_catalog"} <= run.materialized
    for port in ("artist_profiles", "track_catalog"):
        assert current_snapshot(env.ports_dir, "artists", port, 1) is not None


def test_a_step_whose_every_model_is_held_back_does_not_start_dbt(fresh_env):
    """recommendations reads only other domains' ports: on a fresh data dir every one of its
    models waits for a producer, so the step fails at once, saying so, without paying dbt's
    start-up and parse for an empty build."""
    env = fresh_env

    (run,) = materialize_mesh(only=["recommendations"])

    assert not run.success
    message = "\n".join(run.errors)
    for product in ("listener_taste_profiles", "weekly_top_tracks"):
        assert (
            f"domain recommendations, product {product}: output port recommendations.{product} "
            "v1 was NOT built or published"
        ) in message
    assert "Materialize artists and playback first" in message
    assert run.materialized == set()
    assert not (env.dbt_artifacts_dir / "recommendations_dbt").exists(), "dbt was started"

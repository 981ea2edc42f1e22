"""The whole mesh on real DuckDB, dbt, Soda and Dagster: every port published and reconciled."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from mesh_platform.build.instance import get_instance
from mesh_platform.core.domain import load_all_domains
from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import list_published

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def counts(built_mesh) -> dict[str, int]:
    env, _ = built_mesh
    return json.loads((env.operational_dir / "manifest.json").read_text())["counts"]


def scalar(sql: str) -> int:
    return connect().execute(sql).fetchone()[0]


def test_every_domain_run_succeeds_with_no_failed_check(built_mesh):
    _, runs = built_mesh
    for run in runs:
        assert run.success, (run.domain, run.errors)
        failed = {k: t.failed for k, t in run.checks.items() if t.failed}
        assert not failed, (run.domain, failed)
        assert sum(t.passed for t in run.checks.values()) > 0


def test_every_output_port_of_every_product_is_published(mesh_env):
    declared = {
        f"{p.domain}.{port.name}"
        for d in load_all_domains(mesh_env.domains_dir)
        for p in d.products
        for port in p.output_ports
    }
    published = {p.address for p in list_published(mesh_env.ports_dir)}
    assert declared == published
    assert len(published) >= 12


@pytest.mark.parametrize(
    ("sql", "count_key"),
    [
        ("select count(*) from playback.play_events", "play_events"),
        ("select sum(plays) from playback.daily_track_plays", "play_events"),
        ("select sum(plays) from playback.listening_sessions", "play_events"),
        ("select count(*) from listeners.listener_profiles", "listeners"),
        ("select count(*) from listeners.listener_profile_updates", "profile_changes"),
        ("select count(*) from listeners.subscription_periods", "subscriptions"),
        ("select sum(plays) from listeners.monthly_listener_summary", "play_events"),
        ("select count(*) from artists.artist_profiles", "artists"),
        ("select count(*) from artists.track_catalog", "tracks"),
        ("select count(*) from artists.artist_payments", "artist_payments"),
        ("select count(*) from podcasts.podcast_shows", "podcast_shows"),
        ("select count(*) from podcasts.podcast_episodes", "podcast_episodes"),
        ("select sum(plays) from recommendations.listener_taste_profiles", "play_events"),
    ],
)
def test_published_rows_reconcile_with_the_sources(mesh_env, counts, sql, count_key):
    assert scalar(sql) == counts[count_key]


def test_royalty_streams_reconcile_with_play_events(mesh_env):
    streams = scalar("select sum(streams) from artists.artist_royalties")
    assert streams == scalar("select count(*) from playback.play_events where ms_played >= 30000")
    assert streams > 0


def test_personal_data_is_not_published_raw(mesh_env):
    columns = {
        row[0] for row in connect().execute("describe listeners.listener_profiles").fetchall()
    }
    assert "email" not in columns and "full_name" not in columns
    assert "email_sha256" in columns


def test_analyst_reads_ports_with_pandas(mesh_env):
    frame = (
        connect()
        .execute(
            "select track_id, sum(plays) as plays from playback.daily_track_plays "
            "group by track_id order by plays desc limit 5"
        )
        .df()
    )
    assert len(frame) == 5
    assert frame["plays"].is_monotonic_decreasing


def test_runs_and_check_results_are_recorded_in_the_dagster_instance(mesh_env):
    instance = get_instance()
    key = dg.AssetKey(["playback", "play_events"])
    event = instance.get_latest_materialization_event(key)
    assert event is not None
    metadata = event.asset_materialization.metadata
    published = metadata["mesh/publish"].value  # the publish's facts, grouped in one entry
    assert published["address"] == "playback.play_events" and published["version"] == 1
    assert published["rows"] == metadata["dagster/row_count"].value
    assert metadata["dagster/row_count"].value == scalar(
        "select count(*) from playback.play_events"
    )
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(key, "contract__event_id__duplicate")]
    )
    assert record

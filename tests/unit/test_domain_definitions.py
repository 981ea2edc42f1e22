"""Each domain's code location loads, and descriptors become the asset specs users see."""

from __future__ import annotations

import importlib

import dagster as dg
import pytest

from mesh_platform.core.domain import discover_domain_dirs

from ..conftest import REPO

DOMAINS = [d.name for d in discover_domain_dirs(REPO / "domains")]


@pytest.fixture(scope="module")
def playback_defs(tmp_path_factory) -> dg.Definitions:
    """Playback's definitions over an empty data dir: module fixtures are set up before the
    autouse one that isolates the data dir, and partitions start at the data's first day, so
    importing the module here would read whatever the repository's ./data holds."""
    from mesh_platform.build.definitions import build_domain_definitions

    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(tmp_path_factory.mktemp("playback-defs")))
    try:
        return build_domain_definitions(REPO / "domains" / "playback")
    finally:
        mp.undo()


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_code_location_loads(domain):
    defs = importlib.import_module(f"domains.{domain}.definitions").defs
    graph = defs.resolve_asset_graph()
    keys = graph.materializable_asset_keys
    assert keys, f"{domain} defines no materializable assets"
    assert all(key.path[0] == domain for key in keys)
    assert {graph.get(k).group_name for k in keys} == {domain}


def test_output_port_spec_carries_descriptor_metadata(playback_defs):
    graph = playback_defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["playback", "play_events"]))
    assert node.owners == ["team:playback-team"]
    assert node.tags["product"] == "play_events"
    assert node.tags["tier"] == "source-aligned"
    assert node.metadata["mesh/address"] == "playback.play_events"
    assert "| Version | v1 |" in node.metadata["mesh/port"].value
    assert node.metadata["dbt/contract_enforced"] is True
    # dbt's access is about refs inside the domain's project: a published port does not show it
    assert "dbt/access" not in node.metadata
    columns = {c.name: c.type for c in node.metadata["dagster/column_schema"].columns}
    assert columns["event_id"] == "string"  # as the model YAML spells it (both engines read it)
    assert columns["played_at"] == "timestamp"
    assert "Every play of a track" in node.description
    assert node.freshness_policy is not None
    assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
    assert {"dbt", "duckdb"} <= set(node.kinds)


def test_every_contract_check_is_a_blocking_dagster_check(playback_defs):
    graph = playback_defs.resolve_asset_graph()
    checks = {
        k.name for k in graph.asset_check_keys if k.asset_key.path == ["playback", "play_events"]
    }
    assert {
        "contract__event_id__duplicate",
        "contract__schema",
        "contract__device__invalid",
    } <= checks
    spec = next(
        s
        for a in playback_defs.assets
        if isinstance(a, dg.AssetsDefinition)
        for s in a.check_specs
        if s.name == "contract__event_id__duplicate"
    )
    assert spec.blocking


def test_operational_sources_are_visible_upstream(playback_defs):
    graph = playback_defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["playback", "stg_play_event_stream__plays"]))
    assert dg.AssetKey(["playback", "play_event_stream", "plays"]) in staging.parent_keys


def test_domain_steps_hold_the_domains_duckdb_pool(playback_defs):
    steps = [a for a in playback_defs.assets if isinstance(a, dg.AssetsDefinition)]
    pools = {a.node_def.pool for a in steps if a.is_materializable}
    assert pools == {"duckdb_playback"}
    # observing the operational sources never opens the domain's file: it holds no slot
    assert {a.node_def.pool for a in steps if a.is_observable} == {None}


def test_models_built_from_a_port_that_rejects_rows_run_in_a_step_after_its_split(playback_defs):
    """play_events rejects bad rows after dbt built it: the aggregates built from it must read
    the port's rows after the split, so they are a step of their own (same partitions)."""
    steps = {
        a.node_def.name: {k.path[1] for k in a.keys}
        for a in playback_defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.node_def.name.startswith("playback_dbt")
    }
    assert steps == {
        "playback_dbt_daily": {"stg_play_event_stream__plays", "play_events"},
        "playback_dbt_daily_after_rejects": {"daily_track_plays", "listening_sessions"},
    }
    graph = playback_defs.resolve_asset_graph()
    after = graph.get(dg.AssetKey(["playback", "daily_track_plays"]))
    assert dg.AssetKey(["playback", "play_events"]) in after.parent_keys
    assert (
        after.partitions_def == graph.get(dg.AssetKey(["playback", "play_events"])).partitions_def
    )


def test_scheduled_product_gets_a_schedule(playback_defs):
    names = [s.name for s in playback_defs.schedules]
    assert any("play_events" in n for n in names)


def test_workspace_lists_exactly_one_code_location_per_domain():
    import yaml

    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    locations = {
        entry["python_module"]["location_name"]: entry["python_module"]["module_name"]
        for entry in workspace["load_from"]
    }
    assert locations == {d: f"domains.{d}.definitions" for d in DOMAINS}


def test_eager_products_are_evaluated_by_a_running_automation_sensor(playback_defs):
    graph = playback_defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["playback", "daily_track_plays"]))
    assert node.automation_condition is not None
    (sensor,) = playback_defs.sensors
    assert sensor.name == "playback_automation"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_daily_products_schedule_runs_the_day_that_just_ended(playback_defs):
    from datetime import UTC, datetime

    schedule = playback_defs.get_schedule_def("playback__play_events")
    assert schedule.cron_schedule == "30 1 * * *"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 10, 1, 30, tzinfo=UTC),
        repository_def=playback_defs.get_repository_def(),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-03-09"
    assert dg.AssetKey(["playback", "play_events"]) in request.asset_selection
    assert dg.AssetKey(["playback", "daily_track_plays"]) not in request.asset_selection


def test_scheduled_products_of_a_domain_share_the_domains_job():
    from datetime import UTC, datetime

    from mesh_platform.build.definitions import build_domain_definitions

    defs = build_domain_definitions(REPO / "domains" / "artists")
    targets = {s.job_name for s in defs.schedules}
    assert len(defs.schedules) == 3  # artist_payments, artist_profiles, track_catalog
    assert targets == {"artists__materialize"}  # the job `mesh materialize` runs
    payments = defs.get_schedule_def("artists__artist_payments")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 10, 2, 15, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    (request,) = payments.evaluate_tick(context).run_requests
    assert dg.AssetKey(["artists", "artist_payments"]) in request.asset_selection
    assert dg.AssetKey(["artists", "artist_profiles"]) not in request.asset_selection


def test_eager_products_fire_downstream_of_a_daily_product_with_old_days_missing(playback_defs):
    """The day that just ended of play_events (what its schedule runs) makes that day of the
    daily aggregates due, and the sessions too, although every other day of play_events is
    missing; before any day exists nothing is due."""
    instance = dg.DagsterInstance.ephemeral()
    plays = dg.AssetKey(["playback", "play_events"])
    daily = dg.AssetKey(["playback", "daily_track_plays"])
    sessions = dg.AssetKey(["playback", "listening_sessions"])
    graph = playback_defs.resolve_asset_graph()
    latest = graph.get(plays).partitions_def.get_last_partition_key()
    first = dg.evaluate_automation_conditions(defs=playback_defs, instance=instance)
    assert first.get_num_requested(daily) == 0  # no day of play_events yet
    instance.report_runless_asset_event(dg.AssetMaterialization(plays, partition=latest))
    second = dg.evaluate_automation_conditions(
        defs=playback_defs, instance=instance, cursor=first.cursor
    )
    assert second.get_num_requested(daily) == 1
    assert second.get_num_requested(sessions) == 1
    requested = second.get_requested_partitions(daily)
    assert requested == {latest}
    assert second.get_num_requested(plays) == 0  # scheduled, not eager


def test_partitions_start_at_the_datas_first_day_and_schedules_wait_for_data(tmp_path, monkeypatch):
    """A live demo: no partition before the data begins, schedules on, and a daily schedule
    skips a day the operational data does not hold yet instead of failing on it."""
    from datetime import UTC, date, datetime

    from mesh_platform.build.definitions import build_domain_definitions
    from operational import generate

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    generate(tmp_path / "data" / "operational", scale=0.001, days=10, start=date(2026, 6, 1))
    defs = build_domain_definitions(REPO / "domains" / "playback")
    graph = defs.resolve_asset_graph()
    partitions = graph.get(dg.AssetKey(["playback", "play_events"])).partitions_def
    keys = partitions.get_partition_keys(current_time=datetime(2026, 6, 20, tzinfo=UTC))
    assert keys[0] == "2026-06-01"  # the data's first day, not the descriptor's 2026-01-01
    assert keys[-1] == "2026-06-19"

    schedule = defs.get_schedule_def("playback__play_events")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    def tick(day: int):
        context = dg.build_schedule_context(
            scheduled_execution_time=datetime(2026, 6, day, 1, 30, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        return schedule.evaluate_tick(context)

    (request,) = tick(11).run_requests  # 2026-06-10, the data's last day
    assert request.partition_key == "2026-06-10"
    skipped = tick(12)  # 2026-06-11 has not landed
    assert not skipped.run_requests
    assert "no source data for 2026-06-11 yet (the operational data ends 2026-06-10)" in (
        skipped.skip_message
    )


def test_output_port_page_is_readable(playback_defs, monkeypatch):
    """One description (no raw dbt Jinja), the real relation, the port's facts as one table
    and a link to the product's page in the portal."""
    graph = playback_defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["playback", "play_events"]))
    assert "{{" not in node.description and "Raw SQL" not in node.description
    paragraphs = [p.strip() for p in node.description.split("\n\n") if p.strip()]
    assert len(paragraphs) == len(set(paragraphs))
    assert node.metadata["dagster/table_name"] == "playback.marts.play_events"
    assert node.metadata["mesh/portal"].url.endswith("/products/playback/play_events")
    table = node.metadata["mesh/port"].md_str
    assert "| Classification |" in table and "domains/playback/contracts/" in table
    internal = graph.get(dg.AssetKey(["playback", "stg_play_event_stream__plays"]))
    assert "{{" not in (internal.description or "")


def test_portal_link_follows_mesh_portal_url(monkeypatch):
    from mesh_platform.build.definitions import build_domain_definitions

    monkeypatch.setenv("MESH_PORTAL_URL", "https://portal.daff.example/")
    defs = build_domain_definitions(REPO / "domains" / "playback")
    node = defs.resolve_asset_graph().get(dg.AssetKey(["playback", "play_events"]))
    assert node.metadata["mesh/portal"].url == (
        "https://portal.daff.example/products/playback/play_events"
    )
    monkeypatch.setenv("MESH_PORTAL_URL", "portal.daff.example")
    with pytest.raises(ValueError, match="MESH_PORTAL_URL='portal.daff.example'"):
        build_domain_definitions(REPO / "domains" / "playback")


@pytest.mark.parametrize("domain", DOMAINS)
def test_no_group_outside_the_domain(domain):
    """Every asset of a code location, the other domains' ports it reads included, is in the
    domain's group: no "default" group that opens an empty graph."""
    defs = importlib.import_module(f"domains.{domain}.definitions").defs
    graph = defs.resolve_asset_graph()
    assert {graph.get(k).group_name for k in graph.get_all_asset_keys()} == {domain}


def test_operational_sources_are_observable_and_in_the_domain_job(playback_defs):
    graph = playback_defs.resolve_asset_graph()
    source = dg.AssetKey(["playback", "play_event_stream", "plays"])
    assert graph.get(source).is_observable
    job = playback_defs.resolve_job_def("playback__materialize")
    assert source in job.asset_layer.selected_asset_keys
    assert set(graph.materializable_asset_keys) <= set(job.asset_layer.selected_asset_keys)


def test_the_portal_reads_automation_by_the_names_and_defaults_defined_here(playback_defs):
    """run_history.automation_states finds a product's schedule and its domain's sensor by name
    and, when nobody started or stopped them, assumes their defaults: these must match."""
    from mesh_platform.build.run_history import SCHEDULE_NAME, SENSOR_NAME

    schedule = playback_defs.get_schedule_def(
        SCHEDULE_NAME.format(domain="playback", product="play_events")
    )
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    sensor = playback_defs.get_sensor_def(SENSOR_NAME.format(domain="playback"))
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_building_definitions_leaves_the_garbage_collector_as_the_caller_had_it():
    """The build pauses Python's cyclic collector (and freezes the first build's objects); a
    tool or test that builds definitions keeps collecting garbage afterwards, and one that had
    turned the collector off finds it still off."""
    import gc

    from mesh_platform.build.definitions import build_domain_definitions

    assert gc.isenabled()
    build_domain_definitions(REPO / "domains" / "podcasts")
    assert gc.isenabled()
    gc.disable()
    try:
        build_domain_definitions(REPO / "domains" / "podcasts")
        assert not gc.isenabled()
    finally:
        gc.enable()

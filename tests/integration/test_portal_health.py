"""An honest portal on the real built Daff mesh (issue 25, items 5 and 6): freshness from the
data's time column with its date range, automation on/off as it is in Dagster, health on the
home page and in search results, facets, and the mesh-wide scorecard."""

from __future__ import annotations

import re
import shutil

import pytest
from fastapi.testclient import TestClient

from mesh_platform.access.service import AccessService
from mesh_platform.build.instance import get_instance
from mesh_platform.portal import create_app

from .test_portal_api import portal_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def _text(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())


def _section(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, flags=re.S)
    assert match, f"no #{element_id} on the page"
    return _text(match[2])


@pytest.fixture
def client(portal_env) -> TestClient:  # noqa: F811
    return TestClient(create_app(portal_env))


def test_freshness_is_the_age_of_the_data_with_its_range(client):
    html = client.get("/products/playback/play_events").text
    # just published, but its newest day is 2026-03-31: stale against a 26 h SLO
    freshness = _section(html, "freshness")
    assert freshness.startswith("stale — newest data 2026-03-31"), freshness
    assert "by its time column" in freshness and "SLO 26.0 h" in freshness
    assert re.search(r"published 20\d\d-\d\d-\d\dT[\d:]+Z \([\d.]+ h ago\)", freshness)
    assert _section(html, "data-range") == "2026-01-01 to 2026-03-31"
    # no time column of its own: its data is no newer than what it reads
    sessions = _section(client.get("/products/playback/listening_sessions").text, "freshness")
    assert sessions.startswith("stale — data no newer than its inputs' (2026-03-31"), sessions
    detail = client.get("/api/v1/products/playback/play_events").json()["freshness"]
    assert detail["basis"] == "data" and detail["data_to"] == "2026-03-31"


@pytest.fixture
def own_instance(portal_env):  # noqa: F811
    """A private copy of the built mesh's Dagster instance: this test stores schedule and sensor
    states in it, and Dagster's storage cannot always delete one again cleanly (when the daemon of
    an earlier `mesh dev` stored a state for the same schedule, the stopped one stays behind)."""
    home = portal_env.dagster_home
    shared = home.resolve()
    home.unlink()  # the symlink to the shared one; its runs' compute logs are not needed
    shutil.copytree(shared, home, ignore=shutil.ignore_patterns("storage", "instance.lock"))
    return portal_env


def test_automation_shows_on_or_off_as_it_is_in_dagster(own_instance):
    client = TestClient(create_app(own_instance))
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
        SensorInstigatorData,
    )

    page = "/products/playback/play_events"
    assert _section(client.get(page).text, "automation").startswith(
        "schedule 30 1 * * *: on in Dagster"
    )  # schedules start running (the live demo)
    eager = _section(client.get("/products/playback/daily_track_plays").text, "automation")
    assert eager.startswith("eager: on in Dagster")  # the domain's automation sensor runs

    # Someone stops the schedule and the sensor in Dagster (what the UI's toggle stores).
    instance = get_instance()
    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("playback"), "__repository__")
    schedule_off = InstigatorState(
        RemoteInstigatorOrigin(repository, "playback__play_events"),
        InstigatorType.SCHEDULE,
        InstigatorStatus.STOPPED,
        ScheduleInstigatorData("30 1 * * *", start_timestamp=0.0),
    )
    stopped = InstigatorState(
        RemoteInstigatorOrigin(repository, "playback_automation"),
        InstigatorType.SENSOR,
        InstigatorStatus.STOPPED,
        SensorInstigatorData(),
    )
    for state in (schedule_off, stopped):
        instance.add_instigator_state(state)
    try:
        assert _section(client.get(page).text, "automation").startswith(
            "schedule 30 1 * * *: off in Dagster"
        )
        eager = _section(client.get("/products/playback/daily_track_plays").text, "automation")
        assert eager.startswith("eager: off in Dagster")
    finally:
        for state in (schedule_off, stopped):
            instance.delete_instigator_state(state.instigator_origin_id, state.selector_id)


def test_home_and_search_show_health(client):
    home = client.get("/")
    assert home.status_code == 200
    plays = _section(home.text, "health-playback-play_events")
    assert plays == "stale · data to 2026-03-31 · checks passed · compliant", plays
    shows = _section(home.text, "health-podcasts-podcast_shows")
    assert "checks passed" in shows and "compliant" in shows

    found = client.get("/search", params={"q": "plays per country"}).text
    first = _text(found.split('class="result card">')[1])
    assert first.startswith("playback.daily_track_plays")
    assert "stale · data to 2026-03-31 · checks passed · compliant" in first
    assert "score" not in _text(found)  # no raw relevance score


def test_search_facets_narrow_by_classification_health_and_owner(client):
    confidential = client.get("/search", params={"q": "confidential"}).text
    assert "4 products, best match first." in _text(confidential)
    listed = client.get("/search", params={"classification": "confidential"}).text
    assert _text(listed).count("· confidential") == 4  # browsing by facet, no words needed
    facets = _section(listed, "facet-classification")
    assert re.search(r"confidential \(4\) × clear", facets), facets

    stale = client.get("/search", params={"q": "listening", "health": "stale"}).text
    health = [_text(h) for h in re.findall(r'class="result-health">(.*?)</p>', stale, re.S)]
    assert len(health) == 4 and all(h.startswith("stale ·") for h in health), health
    everything = client.get("/search", params={"q": "listening"}).text
    assert len(re.findall('class="result card"', everything)) > len(health)
    owner = client.get("/search", params={"owner": "podcasts-team", "tier": "aggregate"}).text
    assert "0 products." in _text(owner) or "podcasts." in _text(owner)
    assert client.get("/search", params={"tag": "x" * 101}).status_code == 400


def test_scorecard_rates_every_product(client, portal_env):  # noqa: F811
    with AccessService(portal_env).connect("alice") as con:
        con.df("select * from playback.daily_track_plays limit 3")
    html = client.get("/scorecard").text
    rows = re.findall(r'<tr class="score" id="score-(\w+)-(\w+)"', html)
    assert len(rows) == 15  # every Daff product
    plays = _section(html, "score-playback-daily_track_plays")
    assert re.search(r"\d+/\d+ passed", plays), plays
    assert "stale data to 2026-03-31 · " in plays and "(SLO 26.0 h)" in plays
    assert "100% " in plays and "compliant" in plays
    assert "1 reads · 1 reader" in plays
    assert "no reads" in _section(html, "score-podcasts-podcast_shows")

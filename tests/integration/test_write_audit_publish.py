"""Write-audit-publish: a contract failure blocks the publish and the last good port stays."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from mesh_platform.build.instance import get_instance
from mesh_platform.ports.reader import connect
from mesh_platform.ports.records import read_governance_record
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.runner import materialize_mesh

pytestmark = pytest.mark.slow


def _portal(env):
    from fastapi.testclient import TestClient

    from mesh_platform.portal import create_app

    client = TestClient(create_app(env))
    assert "blocked" not in client.get("/products/podcasts/podcast_episodes").text
    return client


def _portal_says_blocked_but_serving(client, served) -> None:
    """The portal (open since before the run) names the check that blocked the build and the
    snapshot still served."""
    import re

    page = client.get("/products/podcasts/podcast_episodes").text
    status = " ".join(
        re.sub(r"<[^>]+>", "", page.split('id="status">')[1].split("</dd>")[0]).split()
    )
    assert re.search(
        r"latest build blocked at check contract__episode_id__duplicate \(\S+Z, not published\) — "
        rf"still serving snapshot {served.snapshot_id} \(passed, published at "
        rf"{re.escape(served.published_at[:19])}Z\)",
        status,
    ), status
    home = client.get("/").text
    health = home.split('id="health-podcasts-podcast_episodes">')[1].split("</td>")[0]
    assert "failing (1)" in re.sub(r"<[^>]+>", "", health)


def test_bad_source_row_blocks_publish_and_keeps_previous_snapshot(mesh_env):
    page = sorted((mesh_env.operational_dir / "podcasts" / "api").glob("page-*.json"))[0]
    original = page.read_text()
    before = current_snapshot(mesh_env.ports_dir, "podcasts", "podcast_episodes", 1)
    assert before is not None
    portal = _portal(mesh_env)
    doc = json.loads(original)
    episodes = doc["shows"][0]["episodes"]
    episodes.append(dict(episodes[0]))  # the API re-delivers an episode: duplicate key
    page.write_text(json.dumps(doc))
    try:
        (run,) = materialize_mesh(only=["podcasts"])
        assert not run.success
        message = "\n".join(run.errors)
        assert "domain podcasts, product podcast_episodes" in message
        assert "contract__episode_id__duplicate" in message
        assert "NOT published" in message
        assert run.checks["podcasts/podcast_episodes"].failed >= 1
        # the failed check in Dagster names the failing key, from the built rows
        key = dg.AssetKey(["podcasts", "podcast_episodes"])
        check = dg.AssetCheckKey(key, "contract__episode_id__duplicate")
        (latest,) = get_instance().event_log_storage.get_asset_check_execution_history(
            check, limit=1
        )
        evaluation = latest.event.dagster_event.event_specific_data
        assert not evaluation.passed
        sample = evaluation.metadata["mesh/failing_rows_sample"].md_str
        assert sample.startswith("| episode_id |")
        assert f"| {episodes[0]['episode_id']} |" in sample
        after = current_snapshot(mesh_env.ports_dir, "podcasts", "podcast_episodes", 1)
        assert after == before  # consumers keep the last good version
        rows = connect().execute("select count(*) from podcasts.podcast_episodes").fetchone()[0]
        assert rows == before.rows
        _portal_says_blocked_but_serving(portal, before)
    finally:
        page.write_text(original)
    # once the source is fixed, a rerun publishes again
    (run,) = materialize_mesh(only=["podcasts"])
    assert run.success, run.errors
    assert current_snapshot(mesh_env.ports_dir, "podcasts", "podcast_episodes", 1) != before


def test_personal_data_in_values_blocks_publish_with_governance_check(mesh_env):
    """PII hiding in a free-text column: the governance check fails, nothing is published."""
    page = sorted((mesh_env.operational_dir / "podcasts" / "api").glob("page-*.json"))[0]
    original = page.read_text()
    before = current_snapshot(mesh_env.ports_dir, "podcasts", "podcast_shows", 1)
    assert before is not None
    doc = json.loads(original)
    doc["shows"][0]["publisher"] = "Jane Doe <jane.doe@example.com>"
    page.write_text(json.dumps(doc))
    try:
        (run,) = materialize_mesh(only=["podcasts"])
        assert not run.success
        message = "\n".join(run.errors)
        assert (
            "domain podcasts, product podcast_shows: output port podcasts.podcast_shows" in message
        )
        assert "failed 1 governance policy and was NOT published" in message
        assert (
            "[error] classification.personal-data-in-values — domain podcasts, product "
            "podcast_shows, port podcasts.podcast_shows v1, field `publisher`: 1 sampled value(s) "
            "of column `publisher` look like personal data (email)" in message
        )
        assert "jane.doe@example.com" not in message  # the finding never repeats the PII
        assert run.checks["podcasts/podcast_shows"].failed == 1
        assert current_snapshot(mesh_env.ports_dir, "podcasts", "podcast_shows", 1) == before
        record = json.loads(
            json.dumps(read_governance_record(mesh_env.ports_dir, "podcasts", "podcast_shows", 1))
        )
        assert record["passed"] is False
        assert [f["field"] for f in record["findings"]] == ["publisher"]
    finally:
        page.write_text(original)
    (run,) = materialize_mesh(only=["podcasts"])
    assert run.success, run.errors
    assert current_snapshot(mesh_env.ports_dir, "podcasts", "podcast_shows", 1) != before

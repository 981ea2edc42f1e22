"""The consumer plane on the really built Daff mesh: query with grants, PII masking, audit,
refusals, the views file and the catalog's product page (Dagster history included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

import mesh_platform
from mesh_platform.access.audit import read_entries
from mesh_platform.access.errors import AccessDenied, QueryRefused
from mesh_platform.access.service import AccessService
from mesh_platform.build.run_history import open_instance
from mesh_platform.catalog.detail import access_summary, product_detail
from mesh_platform.ports.store import current_snapshot, list_published
from mesh_platform.ports.views_file import views_file_path
from tests.ports_support import port_sql

from ..conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture
def consumer_env(mesh_env, tmp_path, monkeypatch):
    """The built mesh, with its own copy of the access policy and a fresh audit log."""
    access = tmp_path / "access"
    shutil.copytree(REPO / "governance" / "access", access)
    monkeypatch.setenv("MESH_ACCESS_DIR", str(access))
    shutil.rmtree(mesh_env.data_dir / "access", ignore_errors=True)
    monkeypatch.delenv("MESH_USER", raising=False)
    return mesh_env


def mesh(*args: str, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mesh_platform.cli", *args],
        cwd=REPO,
        env={**os.environ, "MESH_DATA_DIR": str(env.data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_request_approve_query_flow_through_the_cli(consumer_env):
    denied = mesh(
        "query", "select count(*) from artists.artist_royalties", "--as", "alice", env=consumer_env
    )
    assert denied.returncode == 3
    assert "alice has no grant to read artists.artist_royalties" in denied.stdout
    assert "mesh access request artists.artist_royalties" in denied.stdout

    asked = mesh(
        "access",
        "request",
        "artists.artist_royalties",
        "--reason",
        "Royalty report for finance",
        "--as",
        "alice",
        env=consumer_env,
    )
    assert asked.returncode == 0, asked.stdout
    request_id = asked.stdout.split()[1]
    wrong = mesh("access", "approve", request_id, "--as", "lena", env=consumer_env)
    assert wrong.returncode == 3 and "artists-team" in wrong.stdout
    approved = mesh("access", "approve", request_id, "--as", "carla", env=consumer_env)
    assert approved.returncode == 0, approved.stdout

    rows = mesh(
        "query",
        "select artist_id, royalty_eur from artists.artist_royalties",
        "--as",
        "alice",
        "--format",
        "json",
        env=consumer_env,
    )
    assert rows.returncode == 0, rows.stdout
    published = (
        duckdb.connect()
        .execute(
            f"select count(*) from {port_sql(consumer_env.ports_dir, 'artists.artist_royalties')}"
        )
        .fetchall()[0][0]
    )
    assert len(json.loads(rows.stdout)) == published > 0

    audit = [(e.user, e.action, e.ports, e.rows) for e in read_entries(consumer_env.data_dir)]
    assert ("alice", "denied", ("artists.artist_royalties v1",), None) in audit
    assert ("alice", "read", ("artists.artist_royalties v1",), published) in audit
    assert ("lena", "denied", (), None) in audit


def test_personal_data_is_null_without_a_grant_covering_it(consumer_env):
    service = AccessService()
    request = service.request("bruno", "listeners.listener_profiles", "Churn model features")
    service.decide(request.id, "lena", approve=True)
    sql = "select count(email_sha256) as emails, count(birth_year) as births, count(*) as n from listeners.listener_profiles"
    with mesh_platform.connect(user="bruno") as con:
        masked = con.df(sql).iloc[0]
        assert con.hidden_columns["listeners.listener_profiles v1"] == (
            "email_sha256",
            "birth_year",
        )
        # the hidden columns are not even loaded: the objects behind the views lack them
        loaded = con._con.execute(
            "select column_name from duckdb_columns() where table_name like '__mesh_port_%'"
        ).fetchall()
        assert loaded and not {"email_sha256", "birth_year"} & {c for (c,) in loaded}
    assert masked["n"] > 0 and masked["emails"] == 0 and masked["births"] == 0
    with mesh_platform.connect(user="lena") as con:
        owner = con.df(sql).iloc[0]
    assert owner["emails"] == owner["n"] and owner["births"] > 0
    pii = service.request("bruno", "listeners.listener_profiles", "Join on hashed email", pii=True)
    service.decide(pii.id, "lena", approve=True)
    with mesh_platform.connect(user="bruno") as con:
        assert con.df(sql).iloc[0]["emails"] == owner["n"]


def test_only_granted_ports_exist_and_dangerous_statements_are_refused(consumer_env):
    with AccessService().connect("alice", channel="python") as con:
        # granted (role:analyst) and every public product; nothing else
        assert con.tables() == [
            "artists.artist_profiles v1",
            "artists.track_catalog v1",
            "playback.daily_track_plays v1",
            "podcasts.podcast_episodes v1",
            "podcasts.podcast_shows v1",
            "recommendations.weekly_top_tracks v1",
        ]
        assert con.fetchall("select count(*) > 0 from playback.daily_track_plays") == [(True,)]
        with pytest.raises(AccessDenied, match="no grant to read listeners.listener_profiles"):
            con.df("select * from listeners.listener_profiles")
        pointer = current_snapshot(
            consumer_env.ports_dir, "listeners", "listener_profiles", 1
        ).files[0]
        for sql in (
            f"select * from '{pointer}'",
            f"select * from read_parquet('{pointer}')",
            f"attach '{consumer_env.domain_database('listeners')}' as w",
            "install httpfs",
            "create table t as select 1",
            "set enable_external_access = true",
        ):
            with pytest.raises(QueryRefused):
                con.df(sql)
    actions = [e.action for e in read_entries(consumer_env.data_dir)]
    assert actions.count("refused") == 6 and actions.count("denied") == 1


def test_views_file_is_refreshed_at_publish_and_readable_by_any_duckdb_client(consumer_env):
    path = views_file_path(consumer_env.ports_dir)
    assert path.exists()
    con = duckdb.connect(str(path), read_only=True)
    try:
        for published in list_published(consumer_env.ports_dir):
            count = con.execute(f"select count(*) from {published.address}").fetchall()[0][0]
            assert count == published.rows, published.address
        with pytest.raises(duckdb.Error):
            con.execute("create table x as select 1")
    finally:
        con.close()


def test_product_page_data_has_status_history_lineage_and_usage(consumer_env):
    service = AccessService()
    with service.connect("alice") as con:
        con.df("select * from artists.track_catalog limit 5")
    detail = product_detail(
        service.catalog,
        "artists.track_catalog",
        instance=open_instance(),
        usage=service.usage(),
        access=access_summary(service, "alice", "artists.track_catalog"),
    )
    port = detail["ports"][0]
    assert port["published"]["rows"] > 0
    assert port["compliance"]["status"] == "compliant"
    latest = port["history"]["runs"][0]
    assert latest["published"] and latest["checks_failed"] == 0 and latest["checks_passed"] >= 5
    assert detail["freshness"]["status"] == "fresh"
    assert detail["downstream"] == [
        "recommendations.listener_taste_profiles",
        "recommendations.weekly_top_tracks",
    ]
    assert detail["usage"]["readers"] == {"alice": 1} and detail["usage"]["rows"] == 5
    assert port["access"]["can_read"] is True


def test_catalog_show_cli_prints_the_product_page(consumer_env):
    shown = mesh("catalog", "show", "artists.artist_royalties", "--as", "alice", env=consumer_env)
    assert shown.returncode == 0, shown.stdout
    for expected in (
        "artists-team",
        "output port artists.artist_royalties v1",
        "royalty_eur",
        "compliance: compliant",
        "freshness: fresh",
        "upstream: playback.play_events",
        "your access (alice): no access",
    ):
        assert expected in shown.stdout, expected
    unknown = mesh("catalog", "show", "artists.royalties", env=consumer_env)
    assert unknown.returncode == 2 and "did you mean" in unknown.stdout


def test_failed_queries_are_audited_and_never_show_row_data(consumer_env):
    """The issue's leak: a cast error printed 26 KB of the catalog, and nothing was audited."""
    with AccessService().connect("alice") as con:
        titles = [t for (t,) in con.fetchall("select title from artists.track_catalog")]
    sql = "SELECT cast(string_agg(track_id||':'||title,'|') as int) FROM artists.track_catalog"
    failed = mesh("query", sql, "--as", "alice", env=consumer_env)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "ConversionException" in failed.stdout and "try_cast" in failed.stdout
    shown = failed.stdout + failed.stderr
    assert titles and not [t for t in titles if " " in t and t in shown]  # multi-word titles
    entry = [e for e in read_entries(consumer_env.data_dir) if e.action == "failed"][-1]
    assert (entry.user, entry.channel, entry.ports) == (
        "alice",
        "cli",
        ("artists.track_catalog v1",),
    )
    assert entry.detail.startswith("ConversionException")
    assert "|".join(titles[:2]) not in entry.detail


def test_reads_through_internal_or_differently_cased_names_are_audited_with_their_port(
    consumer_env,
):
    with AccessService().connect("alice") as con:
        # track_catalog's internal name: the one port with a `released_on` column (several
        # have a `title`, and which of them came first was up to DuckDB)
        internal = con.fetchall(
            "select distinct table_name from duckdb_columns() "
            "where table_name like '__mesh_port_%' and column_name = 'released_on'"
        )
        assert len(internal) == 1, internal
        internal = internal[0][0]
        con.fetchall(f"select count(*) from {internal}")
        con.fetchall("select count(*) from ARTISTS.Track_Catalog")
        con.fetchall("explain select count(*) from artists.track_catalog_v1")
    reads = [e for e in read_entries(consumer_env.data_dir) if e.action == "read"]
    assert [e.ports for e in reads[-3:]] == [("artists.track_catalog v1",)] * 3


def test_analyst_journey_keyword_to_first_result_in_the_cli(consumer_env):
    """Issue 25 item 7: a public product is two commands from a keyword (search, query); a
    product needing approval five (search, show, request, the owner's approve, query). Each
    step prints the next one."""
    # public: search, then query — no grant, audited, and the caveat printed with the result
    found = mesh("catalog", "search", "weekly top tracks", "--json", env=consumer_env)
    assert json.loads(found.stdout)[0]["key"] == "recommendations.weekly_top_tracks"
    sql = "select track_id, sum(plays) plays from recommendations.weekly_top_tracks group by 1"
    first = mesh("query", sql, "--as", "bruno", env=consumer_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "track_id" in first.stdout and "plays" in first.stdout
    assert "caveat of recommendations.weekly_top_tracks: Keeps only the top 50" in first.stderr
    reads = [e for e in read_entries(consumer_env.data_dir) if e.user == "bruno"]
    assert [(e.action, e.ports) for e in reads] == [
        ("read", ("recommendations.weekly_top_tracks v1",))
    ]

    # needs approval: search, show (prints the exact request command), request, approve, query
    found = mesh("catalog", "search", "royalties", env=consumer_env)
    assert "artists.artist_royalties" in found.stdout
    shown = mesh("catalog", "show", "artists.artist_royalties", "--as", "alice", env=consumer_env)
    command = next(
        line.split(": ", 1)[1]
        for line in shown.stdout.splitlines()
        if line.startswith("request access: ")
    )
    assert command == (
        'mesh access request artists.artist_royalties --reason "WHY YOU NEED IT" --as alice'
    )
    assert "who approves access: carla (artists-team) or a steward (greta)" in shown.stdout
    asked = mesh(
        "access",
        "request",
        "artists.artist_royalties",
        "--reason",
        "Royalty report",
        "--as",
        "alice",
        env=consumer_env,
    )
    assert asked.returncode == 0, asked.stdout
    request_id = asked.stdout.split()[1]
    owner = mesh("catalog", "show", "artists.artist_royalties", "--as", "carla", env=consumer_env)
    assert "1 access request(s) wait for your decision" in owner.stdout
    approved = mesh("access", "approve", request_id, "--as", "carla", env=consumer_env)
    assert f"carla approved request {request_id} (alice → artists.artist_royalties) at" in (
        approved.stdout
    )
    rows = mesh(
        "query",
        "select count(*) n from artists.artist_royalties",
        "--as",
        "alice",
        env=consumer_env,
    )
    assert rows.returncode == 0 and int(rows.stdout.split()[-1]) > 0


def test_hidden_personal_data_prints_as_a_marker_not_nan(consumer_env):
    service = AccessService()
    request = service.request("bruno", "listeners.listener_profiles", "Churn model features")
    service.decide(request.id, "lena", approve=True)
    shown = mesh(
        "query",
        "select listener_id, email_sha256, birth_year from listeners.listener_profiles limit 3",
        "--as",
        "bruno",
        env=consumer_env,
    )
    assert shown.returncode == 0, shown.stderr
    body = shown.stdout.splitlines()[1:4]
    assert len(body) == 3 and all(line.split()[1:] == ["‹hidden›", "‹hidden›"] for line in body)
    assert "NaN" not in shown.stdout and "None" not in shown.stdout
    assert "personal data hidden (‹hidden› in the table) in: birth_year, email_sha256" in (
        shown.stderr
    )

"""The portal's HTTP API on the real built Daff mesh: catalog JSON, search ranking, product
detail, port data in three formats, grants, personal-data masking, path validation, the
request → approve → read flow and the audit log.

Each test gets its own data directory whose ``ports`` and ``dagster_home`` link to the session's
built mesh, and its own copy of ``governance/access/``: requests, tokens, grants and the audit
log stay private to the test and never touch the repository's files.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from mesh_platform.access.audit import read_entries
from mesh_platform.access.service import AccessService
from mesh_platform.core.environment import MeshEnvironment, get_environment
from mesh_platform.portal import create_app

from ..conftest import REPO

pytestmark = pytest.mark.slow

PLAYS = "playback/daily_track_plays"  # alice reads it through the standing role:analyst grant
PROFILES = "listeners/listener_profiles"  # personal data: email_sha256, birth_year
FORM_TOKEN = re.compile(r'<input type="hidden" name="csrf" value="([^"]+)">')


@pytest.fixture
def portal_env(mesh_env, tmp_path, monkeypatch) -> MeshEnvironment:
    """A private data directory over the built mesh's ports and history, and private grants."""
    data = tmp_path / "data"
    data.mkdir()
    for shared in ("ports", "dagster_home"):
        (data / shared).symlink_to(mesh_env.data_dir / shared, target_is_directory=True)
    access = tmp_path / "access"
    shutil.copytree(REPO / "governance" / "access", access)
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    monkeypatch.setenv("MESH_ACCESS_DIR", str(access))
    return get_environment()


@pytest.fixture
def client(portal_env) -> TestClient:
    return TestClient(create_app(portal_env))


@pytest.fixture
def tokens(portal_env) -> dict[str, dict[str, str]]:
    service = AccessService(portal_env)
    return {
        user: {"Authorization": f"Bearer {service.issue_token(user)}"}
        for user in ("alice", "carla", "lena", "bruno")
    }


def _published_files(client: TestClient, port: str) -> list[str]:
    return client.app.state.portal.current().catalog.port(port.replace("/", ".")).published.files


def test_catalog_json_lists_domains_products_and_ports(client):
    domains = client.get("/api/v1/domains").json()
    names = {d["name"] for d in domains}
    assert {"playback", "listeners", "artists", "podcasts", "recommendations"} <= names
    artists = next(d for d in domains if d["name"] == "artists")
    assert "artists.artist_royalties" in artists["keys"]
    assert "/api/v1/products/artists/artist_royalties" in artists["products"]

    products = client.get("/api/v1/products").json()
    assert len(products) == 15
    only = client.get("/api/v1/products", params={"domain": "podcasts"}).json()
    assert {p["key"] for p in only} == {"podcasts.podcast_episodes", "podcasts.podcast_shows"}
    assert client.get("/api/v1/products", params={"domain": "podcast"}).status_code == 404

    port = client.get("/api/v1/ports/artists/artist_royalties").json()
    assert port["address"] == "artists.artist_royalties" and port["version"] == 1
    assert port["product"] == "artists.artist_royalties"
    assert port["published"]["rows"] > 0 and "path" not in port["published"]
    assert port["data_url"] == "/api/v1/ports/artists/artist_royalties/data?version=1"
    assert {c["name"] for c in port["columns"]} >= {"artist_id", "royalty_eur"}

    spec = client.get("/openapi.json").json()
    assert "/api/v1/ports/{domain}/{port}/data" in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/v1/search" in docs.text
    assert "cdn" not in docs.text.lower() and "<script" not in docs.text.lower()


def test_search_ranks_the_royalty_product_first(client):
    found = client.get("/api/v1/search", params={"q": "royalties"}).json()
    hits = found["hits"]
    assert hits[0]["key"] == "artists.artist_royalties"
    assert hits[0]["owner"] == "artists-team" and hits[0]["matched"] == ["royalty"]
    assert hits[0]["url"] == "/api/v1/products/artists/artist_royalties"
    # the order is the rank; no raw relevance score is exposed
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert all("score" not in h for h in hits), hits[0]
    assert (
        client.get("/api/v1/search", params={"q": "listener region", "limit": 2})
        .json()["hits"][0]["key"]
        .startswith("listeners.")
    )
    assert client.get("/api/v1/search", params={"q": ""}).status_code == 400


def test_product_detail_has_everything_a_consumer_needs(client, tokens):
    detail = client.get(f"/api/v1/products/{PROFILES}").json()
    assert detail["owner"] == {"team": "listeners-team", "contact": "listeners@daff.example"}
    assert detail["classification"] and detail["tier"] and detail["tags"]
    port = detail["ports"][0]
    assert port["address"] == "listeners.listener_profiles" and port["version"] == 1
    columns = {c["name"]: c for c in port["columns"]}
    assert columns["email_sha256"]["personal"] and columns["email_sha256"]["pii_category"]
    assert not columns["listener_id"]["personal"] and columns["listener_id"]["description"]
    assert port["published"]["rows"] > 0 and "path" not in port["published"]
    assert port["history"]["runs"] and port["history"]["latest_checks"]
    assert set(port["history"]["latest_checks"].values()) == {"passed"}
    assert port["compliance"]["status"] == "compliant"
    assert detail["freshness"]["status"] == "fresh"
    assert port["access"] is None  # anonymous: metadata only

    downstream = client.get("/api/v1/products/playback/play_events").json()["downstream"]
    assert "playback.daily_track_plays" in downstream

    mine = client.get(f"/api/v1/products/{PROFILES}", headers=tokens["alice"]).json()
    access = mine["ports"][0]["access"]
    assert access["user"] == "alice" and access["can_read"] is False
    owner = client.get(f"/api/v1/products/{PROFILES}", headers=tokens["lena"]).json()
    assert owner["ports"][0]["access"]["can_read"] and owner["ports"][0]["access"]["personal_data"]

    missing = client.get("/api/v1/products/artists/artist_royalty")
    assert missing.status_code == 404 and "artist_royalties" in missing.json()["detail"]


def test_port_data_round_trips_as_csv_json_and_parquet(client, tokens, portal_env):
    original = duckdb.sql(
        f"select * from read_parquet({_published_files(client, PLAYS)})"
    ).to_arrow_table()
    params = {"limit": 100_000}
    got = {}
    for fmt in ("csv", "json", "parquet"):
        response = client.get(
            f"/api/v1/ports/{PLAYS}/data", params={**params, "format": fmt}, headers=tokens["alice"]
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-mesh-rows"] == str(original.num_rows)
        got[fmt] = response
    assert got["csv"].headers["content-type"].startswith("text/csv")
    assert got["parquet"].headers["content-type"] == "application/vnd.apache.parquet"

    con = duckdb.connect()
    con.register("original", original)
    con.register("from_parquet", pq.read_table(io.BytesIO(got["parquet"].content)))
    csv_file = portal_env.data_dir / "plays.csv"
    csv_file.write_bytes(got["csv"].content)
    json_file = portal_env.data_dir / "plays.json"
    json_file.write_text(json.dumps(got["json"].json()["rows"]))
    sources = {
        "parquet": "from_parquet",
        "csv": f"read_csv('{csv_file}')",
        "json": f"read_json('{json_file}')",
    }
    for fmt, source in sources.items():
        for left, right in ((source, "original"), ("original", source)):
            diff = con.execute(
                f"select count(*) from (select * from {left} except all select * from {right})"
            ).fetchone()[0]
            assert diff == 0, f"{fmt}: {left} has {diff} rows not in {right}"
        assert con.execute(f"select count(*) from {source}").fetchone()[0] == original.num_rows


def test_limit_and_column_selection(client, tokens):
    response = client.get(
        f"/api/v1/ports/{PLAYS}/data",
        params={"format": "json", "limit": 5, "columns": "track_id,plays"},
        headers=tokens["alice"],
    )
    body = response.json()
    assert body["columns"] == ["track_id", "plays"]
    assert len(body["rows"]) == 5 and set(body["rows"][0]) == {"track_id", "plays"}
    default = client.get(f"/api/v1/ports/{PLAYS}/data", headers=tokens["alice"])
    assert default.headers["x-mesh-rows"] == "1000"  # the default limit
    assert len(default.text.strip().splitlines()) == 1001  # header + rows


def test_errors_401_403_400_404_are_clear_json(client, tokens):
    url = f"/api/v1/ports/{PROFILES}/data"
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and "mesh access token" in anonymous.json()["detail"]
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bad = client.get(url, headers={"Authorization": "Bearer mesh_not-a-token"})
    assert bad.status_code == 401

    denied = client.get(url, headers=tokens["alice"])
    assert denied.status_code == 403
    detail = denied.json()["detail"]
    assert "alice has no grant to read listeners.listener_profiles" in detail
    assert "POST /api/v1/access/requests" in detail and "mesh access request" in detail

    for params, needle in (
        ({"columns": "track_id,secret"}, "no column 'secret'"),
        ({"format": "xlsx"}, "unknown format 'xlsx'"),
        ({"limit": 0}, "limit"),
        ({"limit": 100_001}, "limit"),
        ({"version": 7}, None),
    ):
        response = client.get(f"/api/v1/ports/{PLAYS}/data", params=params, headers=tokens["alice"])
        assert response.status_code in (400, 404), (params, response.text)
        assert needle is None or needle in response.json()["detail"], response.text
    assert "no major version 7" in client.get(f"/api/v1/ports/{PLAYS}?version=7").json()["detail"]

    refused = client.post(
        "/api/v1/query",
        json={"sql": "attach '/tmp/x.duckdb' as x"},
        headers=tokens["alice"],
    )
    assert refused.status_code == 400 and "refused" in refused.json()["detail"]
    assert client.post("/api/v1/query", json={"sql": "select 1"}).status_code == 401
    result = client.post(
        "/api/v1/query",
        json={"sql": "select track_id from playback.daily_track_plays", "limit": 3},
        headers=tokens["alice"],
    ).json()
    assert result["columns"] == ["track_id"] and len(result["rows"]) == 3 and result["truncated"]


def test_query_api_refuses_introspection_and_fails_without_row_data(client, tokens, portal_env):
    def ask(sql: str):
        return client.post("/api/v1/query", json={"sql": sql}, headers=tokens["alice"])

    for sql, refused in (
        ("EXPLAIN ANALYZE SELECT cast(content as int) FROM read_text('.tmp/x')", "read_text()"),
        ("select current_setting('allowed_directories')", "current_setting()"),
        ("show secret_directory", "secret_directory"),
        ("select * from glob('/*')", "glob()"),
    ):
        response = ask(sql)
        assert response.status_code == 400 and refused in response.json()["detail"], sql
        assert "/root" not in response.text and str(portal_env.data_dir) not in response.text

    titles = [row["title"] for row in ask("select title from artists.track_catalog").json()["rows"]]
    failed = ask("select cast(string_agg(title, '|') as int) from artists.track_catalog")
    assert failed.status_code == 400 and "ConversionException" in failed.json()["detail"]
    assert titles and not [t for t in titles if " " in t and t in failed.text]
    audit = [e for e in read_entries(portal_env.data_dir) if e.channel == "api"]
    assert [e.action for e in audit].count("refused") == 4
    assert audit[-1].action == "failed" and audit[-1].ports == ("artists.track_catalog v1",)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/ports/playback/..%2F..%2Fetc%2Fpasswd/data",
        "/api/v1/ports/playback/..%2F..%2F..%2Fetc/data",
        "/api/v1/ports/..%2Fplayback/daily_track_plays/data",
        "/api/v1/ports/playback/daily_track_plays%2F..%2Fplay_events",
        "/api/v1/ports/playback/%2e%2e/data",
        "/api/v1/ports/playback/Daily_Track_Plays",
        "/api/v1/ports/playback/daily-track-plays",
        "/api/v1/ports/playback/daily_track_plays%00/data",
        "/api/v1/products/..%2Fgovernance/access",
        "/api/v1/products/listeners/%2e%2e",
        "/api/v1/products/listeners/listener_profiles%2F..%2F..",
        "/products/..%2F..%2Fetc/passwd",
    ],
)
def test_path_traversal_and_bad_names_are_refused(client, tokens, path):
    response = client.get(path, headers=tokens["alice"])
    assert response.status_code in (400, 404), response.text
    assert "root:" not in response.text


def test_personal_data_is_masked_without_a_pii_grant(client, tokens):
    created = client.post(
        "/api/v1/access/requests",
        json={"target": "listeners.listener_profiles", "reason": "regional subscriber counts"},
        headers=tokens["alice"],
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    assert (
        client.post(
            f"/api/v1/access/requests/{request_id}/approve", headers=tokens["carla"]
        ).status_code
        == 403
    )  # carla does not own the listeners' products
    approved = client.post(
        f"/api/v1/access/requests/{request_id}/approve",
        json={"note": "aggregates only"},
        headers=tokens["lena"],
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    params = {"format": "json", "limit": 50, "columns": "listener_id,email_sha256,birth_year"}
    masked = client.get(f"/api/v1/ports/{PROFILES}/data", params=params, headers=tokens["alice"])
    assert masked.status_code == 200, masked.text
    assert masked.headers["x-mesh-hidden-columns"] == "email_sha256,birth_year"
    rows = masked.json()["rows"]
    assert rows and all(r["email_sha256"] is None and r["birth_year"] is None for r in rows)

    owner = client.get(f"/api/v1/ports/{PROFILES}/data", params=params, headers=tokens["lena"])
    assert owner.headers["x-mesh-hidden-columns"] == ""
    rows = owner.json()["rows"]
    assert all(len(r["email_sha256"]) == 64 for r in rows)
    assert any(r["birth_year"] is not None for r in rows)


def test_request_approve_read_flow_and_audit(client, tokens, portal_env):
    url = "/api/v1/ports/artists/artist_royalties/data"
    assert client.get(url, headers=tokens["alice"]).status_code == 403

    short = client.post(
        "/api/v1/access/requests",
        json={"target": "artists.artist_royalties", "reason": "why"},
        headers=tokens["alice"],
    )
    assert short.status_code == 400 and "say why" in short.json()["detail"]
    unknown = client.post(
        "/api/v1/access/requests",
        json={"target": "artists.royalties", "reason": "monthly royalty report"},
        headers=tokens["alice"],
    )
    assert unknown.status_code == 400 and "artist_royalties" in unknown.json()["detail"]

    created = client.post(
        "/api/v1/access/requests",
        json={"target": "artists.artist_royalties", "reason": "monthly royalty report"},
        headers=tokens["alice"],
    ).json()
    assert created["status"] == "pending"
    listing = client.get("/api/v1/access/requests", headers=tokens["carla"]).json()
    assert created["id"] in {r["id"] for r in listing["to_decide"]}
    assert (
        client.get("/api/v1/access/requests", headers=tokens["alice"]).json()["mine"][0]["id"]
        == created["id"]
    )
    assert client.get("/api/v1/access/requests", headers=tokens["alice"]).json()["to_decide"] == []
    assert (
        client.post(f"/api/v1/access/requests/{created['id']}/deny", headers=tokens["carla"])
        .json()["detail"]
        .startswith("say why")
    )
    assert (
        client.post(
            "/api/v1/access/requests/req-00000000/approve", headers=tokens["carla"]
        ).status_code
        == 404  # no such request (the API fuzz test: it was a 400)
    )
    assert client.post(
        "/api/v1/access/requests/..%2Fx/approve", headers=tokens["carla"]
    ).status_code in (400, 404)

    approved = client.post(
        f"/api/v1/access/requests/{created['id']}/approve", headers=tokens["carla"]
    ).json()
    assert approved["status"] == "approved" and approved["decided_by"] == "carla"
    grants = (portal_env.access_dir / "grants.yaml").read_text()
    assert created["id"] in grants
    assert created["id"] not in (REPO / "governance" / "access" / "grants.yaml").read_text()

    read = client.get(url, params={"limit": 7}, headers=tokens["alice"])
    assert read.status_code == 200 and read.headers["x-mesh-rows"] == "7"

    entries = [e for e in read_entries(portal_env.data_dir) if e.channel == "api"]
    actions = [(e.user, e.action) for e in entries]
    assert ("alice", "denied") in actions and ("alice", "request") in actions
    assert ("carla", "approve") in actions
    reads = [e for e in entries if e.action == "read" and e.user == "alice"]
    assert reads[-1].ports == ("artists.artist_royalties v1",) and reads[-1].rows == 7
    denied = next(e for e in entries if e.action == "denied")
    assert denied.ports == ("artists.artist_royalties v1",)

    usage = client.get("/api/v1/products/artists/artist_royalties").json()["usage"]
    assert usage["readers"] == {"alice": 1} and usage["denied"] == 1


def test_no_token_is_logged_or_written(client, tokens, portal_env):
    token = tokens["alice"]["Authorization"].split()[1]
    client.get(f"/api/v1/ports/{PLAYS}/data", headers=tokens["alice"])
    for path in Path(portal_env.data_dir / "access").iterdir():
        assert token not in path.read_text(errors="replace"), path


def test_pages_show_metadata_signed_out_and_guard_the_session(client, tokens):
    page = client.get(f"/products/{PROFILES}")
    assert page.status_code == 200 and "listeners.listener_profiles" in page.text
    assert "email_sha256" in page.text and "personal: email" in page.text  # schema, classified
    assert "not signed in" in page.text and "request-form" not in page.text
    assert "<script" not in page.text.lower()
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get(f"/products/{PROFILES}/preview").status_code == 401
    assert client.get("/products/listeners/nope").status_code == 404

    csrf = form_token(client.get("/signin").text)
    refused = client.post(
        "/signin", data={"token": "mesh_wrong", "csrf": csrf}, follow_redirects=False
    )
    assert refused.status_code == 401 and "mesh_token" not in refused.headers.get("set-cookie", "")
    token = tokens["alice"]["Authorization"].split()[1]
    foreign = client.post(
        "/signin",
        data={"token": token, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    signed = client.post(
        "/signin",
        data={"token": token, "next": "//evil.example/", "csrf": csrf},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie

    mine = client.get(f"/products/{PROFILES}")  # the client keeps the cookie
    assert "Signed in as <strong>alice</strong>" in mine.text and "cannot read" in mine.text
    short = client.post(
        f"/products/{PROFILES}/request", data={"reason": "why", "csrf": form_token(mine.text)}
    )
    assert short.status_code == 400 and "say why" in short.text
    assert client.get(f"/products/{PROFILES}/preview").status_code == 403
    client.post("/signout", data={"csrf": form_token(mine.text)})
    assert "not signed in" in client.get(f"/products/{PROFILES}").text


def form_token(html: str) -> str:
    """The anti-forgery token of the (first) form on a portal page."""
    found = FORM_TOKEN.search(html)
    assert found, "the page's form carries no anti-forgery token"
    return found[1]


def sign_in(client: TestClient, headers: dict[str, str]) -> None:
    """Sign in through the sign-in page's own form, as a browser does."""
    token = headers["Authorization"].split()[1]
    page = client.get("/signin")
    signed = client.post(
        "/signin", data={"token": token, "csrf": form_token(page.text)}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text


def test_a_forged_decision_is_refused_and_writes_no_grant(client, tokens, portal_env):
    """The reported attack: a same-site page (another port on 127.0.0.1, so the SameSite=Strict
    cookie is sent) with no-referrer posts the owner's decision form; the browser sends
    ``Origin: null``. Only the portal's own form, with its per-sign-in token, may decide."""
    created = client.post(
        "/api/v1/access/requests",
        json={"target": "artists.artist_royalties", "reason": "monthly royalty report"},
        headers=tokens["alice"],
    )
    request_id = created.json()["id"]
    grants = portal_env.access_dir / "grants.yaml"
    before = grants.read_bytes()
    sign_in(client, tokens["carla"])  # the owner, signed in: the client keeps her cookie
    page = client.get("/access/requests")
    assert page.headers["referrer-policy"] == "same-origin"  # own forms send their Origin
    own = form_token(page.text)
    other = TestClient(client.app)
    sign_in(other, tokens["alice"])
    alices = form_token(other.get("/access/requests").text)

    url = f"/access/requests/{request_id}/decide"
    approve = {"decision": "approve", "note": "forged"}
    for headers, extra in (
        ({"Origin": "null"}, {}),  # the reproduction: no token, Origin: null
        ({"Origin": "null"}, {"csrf": "forged"}),
        ({}, {"csrf": ""}),
        ({}, {"csrf": alices}),  # a token of another sign-in
        ({"Origin": "null"}, {"csrf": own}),  # Origin: null is no longer accepted
        ({"Origin": "http://127.0.0.1:8001"}, {"csrf": own}),  # another port is another origin
    ):
        forged = client.post(url, data={**approve, **extra}, headers=headers)
        assert forged.status_code == 403, (headers, extra, forged.text)
        assert "refused" in forged.text
    # The JSON API ignores the sign-in cookie: a cookie alone approves nothing.
    cookie_only = client.post(f"/api/v1/access/requests/{request_id}/approve", json={})
    assert cookie_only.status_code == 401 and "bearer token" in cookie_only.json()["detail"]
    assert grants.read_bytes() == before
    listing = client.get("/api/v1/access/requests", headers=tokens["alice"]).json()
    assert [r["status"] for r in listing["mine"] if r["id"] == request_id] == ["pending"]

    # The owner's own form on the portal's page (its token, its origin) decides.
    decided = client.post(
        url,
        data={"decision": "approve", "note": "ok", "csrf": own},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert decided.status_code == 303, decided.text
    assert request_id in grants.read_text()


def test_sign_in_sign_out_and_request_forms_need_their_token(client, tokens):
    token = tokens["alice"]["Authorization"].split()[1]
    refused = client.post("/signin", data={"token": token}, follow_redirects=False)
    assert refused.status_code == 403
    assert "mesh_token" not in refused.headers.get("set-cookie", "")
    sign_in(client, tokens["alice"])
    product = client.get(f"/products/{PROFILES}")
    own = form_token(product.text)
    forged = client.post(f"/products/{PROFILES}/request", data={"reason": "regional counts"})
    assert forged.status_code == 403
    assert client.get("/api/v1/access/requests", headers=tokens["alice"]).json()["mine"] == []
    asked = client.post(
        f"/products/{PROFILES}/request",
        data={"reason": "regional counts", "csrf": own},
        follow_redirects=False,
    )
    assert asked.status_code == 303, asked.text
    assert client.post("/signout", data={}).status_code == 403  # a forged sign-out
    assert "Signed in as <strong>alice</strong>" in client.get("/").text
    signout = client.get("/signout")  # a link shows a confirmation form, it does not sign out
    assert "Signed in as <strong>alice</strong>" in signout.text
    client.post("/signout", data={"csrf": form_token(signout.text)})
    assert "not signed in" in client.get(f"/products/{PROFILES}").text

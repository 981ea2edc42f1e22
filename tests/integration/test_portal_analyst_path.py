"""The analyst's path on the portal (issue 25, item 7), over the session's built mesh: public
products read without a grant, who approves, the request form turning into "pending since",
the owners' pending count, the analyst's open product page noticing the decision, decisions that say who decided what and when, caveats, and the
preview's CSV/Parquet download and SQL box on the guarded query path. The browser-visible
items are checked in a real headless Chromium, each with a screenshot of the element that
shows the text."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mesh_platform.access.audit import read_entries
from mesh_platform.access.service import AccessService
from mesh_platform.portal import pages
from mesh_platform.portal.pages import PREVIEW_ROWS

from .test_portal_api import client, form_token, portal_env, sign_in, tokens  # noqa: F401
from .test_portal_browser import _sign_in, _sign_out, browser, portal_url  # noqa: F401

pytestmark = pytest.mark.slow

CHARTS = "recommendations/weekly_top_tracks"
ROYALTIES = "artists/artist_royalties"
PLAYS = "playback/daily_track_plays"


def test_a_public_product_is_read_over_the_api_without_a_grant(client, tokens, portal_env):  # noqa: F811
    answer = client.get(f"/api/v1/ports/{CHARTS}/data?format=json&limit=5", headers=tokens["bruno"])
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["rows"]) == 5
    detail = client.get(f"/api/v1/products/{CHARTS}", headers=tokens["bruno"]).json()
    assert detail["ports"][0]["access"]["can_read"] is True
    assert "public product" in detail["ports"][0]["access"]["why"]
    assert "do not re-aggregate across countries" in detail["caveats"][0]
    # still audited, and a product that is not public still needs a grant
    reads = [
        e for e in read_entries(portal_env.data_dir) if e.user == "bruno" and e.action != "token"
    ]
    assert [(e.action, e.channel, e.rows) for e in reads] == [("read", "api", 5)]
    denied = client.get(f"/api/v1/ports/{ROYALTIES}/data", headers=tokens["bruno"])
    assert denied.status_code == 403


def test_preview_downloads_csv_and_parquet_as_the_signed_in_user(client, tokens, portal_env):  # noqa: F811
    assert client.get(f"/products/{PLAYS}/download?format=csv").status_code == 401
    sign_in(client, tokens["alice"])
    csv = client.get(f"/products/{PLAYS}/download?format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert 'filename="playback.daily_track_plays_v1.csv"' in csv.headers["content-disposition"]
    api = client.get(f"/api/v1/ports/{PLAYS}/data?format=csv&limit=100000", headers=tokens["alice"])
    assert csv.content == api.content  # the same rows as the API's data route
    parquet = client.get(f"/products/{PLAYS}/download?format=parquet")
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == int(parquet.headers["x-mesh-rows"]) == csv.text.count("\n") - 1
    assert client.get(f"/products/{ROYALTIES}/download?format=csv").status_code == 403
    assert client.get(f"/products/{PLAYS}/download?format=xlsx").status_code == 400
    portal_reads = [
        e for e in read_entries(portal_env.data_dir) if e.channel == "portal" and e.user == "alice"
    ]
    assert [e.action for e in portal_reads] == ["read", "read", "denied"]


def test_the_sql_box_runs_through_the_guarded_query_path(client, tokens, portal_env, monkeypatch):  # noqa: F811
    sign_in(client, tokens["alice"])
    page = client.get(f"/products/{PLAYS}/preview")
    csrf = form_token(page.text)
    url = f"/products/{PLAYS}/query?port=daily_track_plays&version=1"
    assert client.post(url, data={"sql": "select 1"}).status_code == 403  # no anti-forgery token

    ran = client.post(
        url,
        data={"csrf": csrf, "sql": "select count(*) as n from playback.daily_track_plays"},
    )
    assert ran.status_code == 200 and 'id="sql-result"' in ran.text
    refused = client.post(url, data={"csrf": csrf, "sql": "copy (select 1) to '/tmp/x.csv'"})
    assert refused.status_code == 400 and "refused" in refused.text
    ungranted = client.post(
        url, data={"csrf": csrf, "sql": "select * from artists.artist_royalties"}
    )
    assert ungranted.status_code == 403 and "no grant to read artists.artist_royalties" in (
        ungranted.text
    )
    monkeypatch.setenv("MESH_QUERY_MAX_ROWS", "3")  # the guarded path's row cap applies
    capped = client.post(
        url, data={"csrf": csrf, "sql": "select * from playback.daily_track_plays"}
    )
    assert capped.text.count("<tr>") == 1 + 3 and "more exist" in capped.text
    actions = [
        (e.action, e.channel)
        for e in read_entries(portal_env.data_dir)
        if e.user == "alice" and e.detail.startswith(("select", "copy"))
    ]
    assert actions == [
        ("read", "portal"),  # the preview page
        ("read", "portal"),
        ("refused", "portal"),
        ("denied", "portal"),
        ("read", "portal"),
    ]


def _shows(page, selector: str, text: str, shots: Path) -> str:
    """The element is visible and holds ``text``; a screenshot of it is saved (and non-empty)."""
    element = page.locator(selector).first
    element.wait_for(state="visible")
    shown = " ".join(element.inner_text().split())
    assert text in shown, (selector, shown)
    path = shots / f"{selector.strip('#.').replace(' ', '_')}.png"
    element.screenshot(path=str(path))
    assert path.stat().st_size > 1000
    return shown


class Clicks:
    """Counts the clicks of the analyst's path (typing a keyword and Enter are not clicks)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, locator) -> None:
        self.count += 1
        locator.click()


def _search(page, keyword: str) -> None:
    page.fill("header input[name=q]", keyword)
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/search?q=*")


def test_analyst_path_in_chromium(  # noqa: F811
    portal_url,  # noqa: F811
    browser,  # noqa: F811
    portal_env,  # noqa: F811
    tmp_path,
    monkeypatch,
    screenshots,
):
    """Keyword to first rows. Public: result, preview data — 2 clicks. Needing approval: result,
    Request access (the form becomes "pending since"); the owner, in her own browser, sees the
    count in the navigation, clicks it and Approve; the analyst's product page, left open,
    reloads itself while her request is pending and now offers "preview data" — 5 clicks in
    all. Then downloads and SQL."""
    monkeypatch.setattr(pages, "PENDING_RECHECK_SECONDS", 2)  # 15 s in use; the same mechanism
    service = AccessService(portal_env)
    bruno, carla, alice = (service.issue_token(u) for u in ("bruno", "carla", "alice"))
    base = portal_url

    # Public product: bruno has no grant, searches, opens it, sees the caveat and previews.
    page = browser.new_context().new_page()
    _sign_in(page, base, bruno, "bruno")
    click = Clicks()
    _search(page, "weekly top tracks")
    click(page.locator("a.result-link").first)
    page.wait_for_url(f"**/products/{CHARTS}")
    _shows(page, "#caveats", "do not re-aggregate across countries", screenshots)
    assert page.locator(".can-read").first.inner_text() == "can read"
    assert page.locator("#request-form").count() == 0
    click(page.locator("a.preview-link").first)
    page.wait_for_url("**/preview?**")
    assert page.locator("#preview tr").count() > 1  # the first rows
    assert click.count == 2
    _sign_out(page)

    # Needs approval: alice sees who approves, requests, and the form becomes "pending since".
    page = browser.new_context().new_page()
    _sign_in(page, base, alice, "alice")
    click = Clicks()
    _search(page, "artist royalties")
    click(page.locator("a.result-link", has_text="artists.artist_royalties"))
    page.wait_for_url(f"**/products/{ROYALTIES}")
    _shows(
        page,
        "#approvers",
        "Who approves access: carla (artists-team) or a steward (greta)",
        screenshots,
    )
    page.fill("#reason", "Monthly royalty report for finance")
    click(page.locator("#request-form button[type=submit]"))
    page.wait_for_url("**requested=req-**")
    pending = _shows(page, "#request-pending", "pending since", screenshots)
    assert "waiting for carla or a steward" in pending
    assert "checks every 2 s" in pending
    assert page.locator("#request-form").count() == 0
    assert page.locator("a.preview-link").count() == 0
    request_id = service.requests("pending")[0].id

    # The owner, in her own browser, sees the count in the navigation, on every page, and
    # approves; alice's page stays open meanwhile.
    owner = browser.new_context().new_page()
    _sign_in(owner, base, carla, "carla")
    _shows(owner, "#pending-count", "1 pending", screenshots)
    click(owner.locator("#nav-requests"))
    click(owner.locator(f"#pending-{request_id} button[value=approve]"))
    flash = _shows(owner, "#flash", f"carla approved request {request_id}", screenshots)
    assert "(alice → artists.artist_royalties) at 20" in flash
    assert owner.locator("#pending-count").count() == 0

    # Alice's open page noticed the decision by itself and offers the data.
    preview_link = page.locator("a.preview-link").first
    preview_link.wait_for(state="visible", timeout=15_000)
    assert page.locator(".request-status").first.inner_text() == "approved"
    assert page.locator("meta[http-equiv=refresh]").count() == 0  # decided: no more reloads
    click(preview_link)
    page.wait_for_url(f"**/products/{ROYALTIES}/preview?port=artist_royalties&version=1")
    assert click.count == 5
    header = page.locator("#preview th").all_inner_texts()
    assert "artist_id" in header and "royalty_eur" in header, header
    column = header.index("artist_id") + 1
    shown_ids = page.locator(f"#preview tr td:nth-child({column})").all_inner_texts()
    with service.connect("alice", channel="cli") as con:  # the rows she may read
        ids = con.run("select artist_id from artists.artist_royalties").table.column(0)
    assert len(shown_ids) == min(PREVIEW_ROWS, len(ids)) > 0
    assert set(shown_ids) <= {str(i) for i in ids.to_pylist()}

    # Alice reads: the preview offers CSV/Parquet downloads and a SQL box.
    _sign_in(page, base, alice, "alice")
    page.click("#nav-requests")  # her approved request links straight to the data
    page.locator("a.request-preview").first.click()
    page.wait_for_url(f"**/products/{ROYALTIES}/preview?port=artist_royalties&version=1")
    _shows(page, "#downloads", "CSV · Parquet", screenshots)
    with page.expect_download() as download:
        page.click("#download-csv")
    saved = tmp_path / "royalties.csv"
    download.value.save_as(saved)
    assert '"artist_id"' in saved.read_text().splitlines()[0]
    page.fill("#sql-text", "select count(*) as royalty_rows from artists.artist_royalties")
    page.click("#sql-form button[type=submit]")
    _shows(page, "#sql-result", "royalty_rows", screenshots)
    page.fill("#sql-text", "select * from read_csv('/etc/passwd')")
    page.click("#sql-form button[type=submit]")
    _shows(page, "#sql-error", "refused", screenshots)

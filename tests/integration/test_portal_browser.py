"""The portal in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no
browser download): an analyst finds the royalty product, reads its schema and status, requests
access; the owner approves on the portal; the analyst can then read and preview the data.

The app runs under uvicorn in a background thread on a free loopback port, over the session's
built mesh with a private data directory and private grants (see ``portal_env``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import uvicorn

from mesh_platform.access.audit import read_entries
from mesh_platform.access.service import AccessService
from mesh_platform.portal import create_app

from .test_portal_api import portal_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def portal_url(portal_env) -> Iterator[str]:  # noqa: F811
    port = _free_port()
    config = uvicorn.Config(
        create_app(portal_env), host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    monkeypatch.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def other_site() -> Iterator[tuple[str, dict[str, str]]]:
    """Another web server on another loopback port (same site as the portal: same host, so the
    browser sends the portal's SameSite=Strict cookie with requests it makes to the portal)."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="other-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _sign_in(page, base: str, token: str, user: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("#token", token)
    page.click("form[action='/signin'] button[type=submit]")
    assert page.locator("#signed-in-as").inner_text().startswith(f"Signed in as {user}")


def _sign_out(page) -> None:
    page.click("form[action='/signout'] button")
    assert page.locator("text=Sign in").first.is_visible()


def test_find_request_approve_and_read_in_chromium(portal_url, browser, portal_env):  # noqa: F811
    service = AccessService(portal_env)
    alice, carla = service.issue_token("alice"), service.issue_token("carla")
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    base = portal_url

    # Signed out: metadata is visible, data is not.
    page.goto(f"{base}/products/artists/artist_royalties")
    assert page.locator("#product-key").inner_text() == "artists.artist_royalties"
    assert "not signed in" in page.locator("#access").locator("xpath=..").inner_text()
    page.goto(f"{base}/products/artists/artist_royalties/preview")
    assert "sign in first" in page.locator("#error").inner_text()

    # Alice signs in, searches, opens the product, sees schema and status, requests access.
    _sign_in(page, base, alice, "alice")
    page.fill("header input[name=q]", "royalties")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/search?q=royalties")
    first = page.locator("li.result").first
    assert first.locator("a.result-link").inner_text() == "artists.artist_royalties"
    assert "artists-team" in first.inner_text()
    first.locator("a.result-link").click()
    page.wait_for_url("**/products/artists/artist_royalties")
    schema = page.locator("table.schema").first.inner_text()
    assert "royalty_eur" in schema and "artist_id" in schema
    status = page.locator("#status").inner_text()
    assert "published" in status and "checks passed" in status
    assert page.locator("#freshness").inner_text().startswith("fresh")
    assert page.locator("svg.lineage a").count() >= 1  # upstream products are links
    assert page.locator("svg.history g.run").count() >= 1
    assert page.locator(".cannot-read").count() == 1
    page.fill("#reason", "Monthly royalty report for finance")
    page.click("#request-form button[type=submit]")
    flash = page.locator("#flash").inner_text()
    assert "Request req-" in flash and "artists-team" in flash
    assert page.locator(".request-status").first.inner_text() == "pending"
    _sign_out(page)

    # Carla (artists-team, the owner) approves it on the requests page.
    _sign_in(page, base, carla, "carla")
    page.goto(f"{base}/access/requests")
    pending = page.locator(".pending-request", has_text="alice")
    assert "Monthly royalty report" in pending.inner_text()
    pending.locator("textarea[name=note]").fill("ok for the finance report")
    pending.locator("button[value=approve]").click()
    assert "carla approved request req-" in page.locator("#flash").inner_text()
    assert page.locator(".pending-request").count() == 0
    _sign_out(page)

    # Alice can now read it: the product page says so, and the preview shows rows.
    _sign_in(page, base, alice, "alice")
    page.goto(f"{base}/products/artists/artist_royalties")
    assert page.locator(".can-read").first.inner_text() == "can read"
    assert page.locator(".request-status").first.inner_text() == "approved"
    page.locator("a.preview-link").first.click()
    page.wait_for_url("**/preview?**")
    assert page.locator("#preview tr").count() > 1
    assert "royalty_eur" in page.locator("#preview tr").first.inner_text()

    # Nothing was fetched from anywhere but the portal (no CDN, no external asset).
    assert requested and all(url.startswith(base) for url in requested), requested
    reads = [e for e in read_entries(portal_env.data_dir) if e.channel == "portal"]
    assert [(e.user, e.action) for e in reads if e.action != "read"] == [
        ("alice", "request"),
        ("carla", "approve"),
    ]
    assert any(e.user == "alice" and e.action == "read" and e.rows for e in reads)


def test_a_page_on_another_loopback_port_cannot_approve_as_the_owner(
    portal_url,
    browser,
    portal_env,  # noqa: F811
    other_site,
):
    """The reported attack, in Chromium: the owner is signed in; a page on another port of
    127.0.0.1 with ``<meta name=referrer content=no-referrer>`` auto-submits an approval."""
    service = AccessService(portal_env)
    carla = service.issue_token("carla")
    pending = service.request("alice", "artists.artist_royalties", "Monthly royalty report")
    grants = portal_env.access_dir / "grants.yaml"
    before = grants.read_bytes()
    site, pages = other_site
    pages["/"] = (
        "<!doctype html><meta name=referrer content=no-referrer>"
        f'<form method=post action="{portal_url}/access/requests/{pending.id}/decide">'
        "<input type=hidden name=decision value=approve>"
        '<input type=hidden name=note value="looks fine"></form>'
        "<script>document.forms[0].submit()</script>"
    )
    page = browser.new_page()
    _sign_in(page, portal_url, carla, "carla")

    with page.expect_response(lambda r: r.url.endswith("/decide")) as forged:
        page.goto(f"{site}/", wait_until="commit")
    response = forged.value
    sent = response.request.all_headers()
    assert "mesh_token=" in sent.get("cookie", "")  # the browser did send the owner's cookie
    assert sent.get("origin") == "null"
    assert response.status == 403
    page.wait_for_load_state()
    assert "refused" in page.locator("#error").inner_text()
    assert grants.read_bytes() == before
    assert [r.status for r in AccessService(portal_env).requests() if r.id == pending.id] == [
        "pending"
    ]

"""The honest portal in headless Chromium (issue 25, items 5 and 6): a consumer sees a stale
product as stale with its data range, health on the home page and in search results, facets,
and the scorecard. Each screenshot is checked: the element is on screen, has the text, and the
pixels of its red "stale" mark are really drawn."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from .test_portal_api import portal_env  # noqa: F401  (fixture)
from .test_portal_browser import browser, portal_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

BAD_RED = (0xC6, 0x28, 0x28)  # base.html's .bad colour


def _pixels(png: bytes) -> list[tuple[int, ...]]:
    """The RGB(A) pixels of a non-interlaced 8-bit PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, header = 8, b"", None
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    step = 4 if colour == 6 else 3
    raw, stride, rows, prev = zlib.decompress(data), width * step, [], bytearray(width * step)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = prev[i], prev[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 0xFF
        rows.append(line)
        prev = line
    return [tuple(row[x : x + 3]) for row in rows for x in range(0, stride, step)]


def _shows(page, selector: str, text: str, out: Path, colour=None) -> None:
    """``selector`` is on screen with ``text``; its screenshot has ``colour`` pixels."""
    element = page.locator(selector).first
    element.scroll_into_view_if_needed()
    assert element.is_visible(), selector
    assert text in " ".join(element.inner_text().split()), element.inner_text()
    png = element.screenshot(path=str(out))
    if colour:
        near = [
            p for p in _pixels(png) if all(abs(a - b) < 40 for a, b in zip(p, colour, strict=True))
        ]
        assert len(near) > 20, f"no {colour} text drawn in {out}"


def test_a_consumer_sees_honest_health_in_chromium(portal_url, browser, screenshots):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    page.goto(portal_url + "/")
    _shows(
        page,
        "#health-playback-play_events",
        "stale · data to 2026-03-31",
        screenshots / "home.png",
        BAD_RED,
    )

    page.goto(portal_url + "/products/playback/play_events")
    _shows(page, "#freshness", "stale — newest data 2026-03-31", screenshots / "fresh.png", BAD_RED)
    _shows(page, "#data-range", "2026-01-01 to 2026-03-31", screenshots / "range.png")
    _shows(page, "#automation", "schedule 30 1 * * *: on in Dagster", screenshots / "auto.png")

    page.fill("header input[name=q]", "confidential")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/search?q=confidential")
    assert page.locator("li.result").count() == 4
    assert "score" not in page.locator("main").inner_text()
    _shows(page, "li.result .result-health", "checks passed · compliant", screenshots / "hit.png")
    page.locator("#facet-domain a", has_text="listeners").click()
    page.wait_for_url("**domain=listeners**")
    assert page.locator("li.result").count() == 2
    _shows(page, "#facet-domain", "listeners (2) × clear", screenshots / "facet.png")

    page.goto(portal_url + "/scorecard")
    _shows(page, "#score-playback-play_events", "stale", screenshots / "score.png", BAD_RED)
    assert page.locator("tr.score").count() == 15

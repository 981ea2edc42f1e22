"""Server-side pictures as inline SVG (no script, no external asset): a product's lineage, and a
port's quality and freshness history."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

BOX_W, BOX_H, ROW, GAP = 280, 30, 40, 80
PASS, FAIL, ROWS, MUTED = "#2e7d32", "#c62828", "#1565c0", "#9e9e9e"


def _link(key: str) -> str:
    domain, name = key.split(".", 1)
    return f"/products/{escape(domain)}/{escape(name)}"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _box(x: float, y: float, label: str, href: str | None, kind: str, title: str) -> str:
    fill = {"self": "#fff3e0", "product": "#e3f2fd", "system": "#f5f5f5"}[kind]
    stroke = {"self": "#ef6c00", "product": "#1565c0", "system": MUTED}[kind]
    body = (
        f'<g class="node {kind}"><title>{escape(title)}</title>'
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
        f'stroke="{stroke}"/>'
        f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 4}" text-anchor="middle" '
        f'font-size="12" fill="#212121">{escape(_short(label))}</text></g>'
    )
    return f'<a href="{href}">{body}</a>' if href else body


def _edge(x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (x1 + x2) / 2
    return (
        f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#757575" '
        f'stroke-width="1.4" marker-end="url(#arrow)"/>'
    )


def lineage(detail: dict[str, Any]) -> Markup:
    """Upstream products (and operational sources) → this product → downstream products."""
    left = [(key, _link(key), "product", f"upstream product {key}") for key in detail["upstream"]]
    left += [
        (i["source"], None, "system", f"{i['kind']} {i['source']}: {i['description']}")
        for i in detail["inputs"]
        if not i.get("upstream_product")
    ]
    right = [
        (key, _link(key), "product", f"downstream product {key}") for key in detail["downstream"]
    ]
    rows = max(len(left), len(right), 1)
    height = rows * ROW + 20
    width = 3 * BOX_W + 2 * GAP + 20
    xs = (10, 10 + BOX_W + GAP, 10 + 2 * (BOX_W + GAP))

    def y_of(index: int, count: int) -> float:
        return 10 + (rows - count) * ROW / 2 + index * ROW

    center_y = y_of(0, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="lineage of {escape(detail["key"])}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#757575"/></marker></defs>',
    ]
    for index, (label, href, kind, title) in enumerate(left):
        y = y_of(index, len(left))
        parts.append(_edge(xs[0] + BOX_W, y + BOX_H / 2, xs[1], center_y + BOX_H / 2))
        parts.append(_box(xs[0], y, label, href, kind, title))
    for index, (label, href, kind, title) in enumerate(right):
        y = y_of(index, len(right))
        parts.append(_edge(xs[1] + BOX_W, center_y + BOX_H / 2, xs[2], y + BOX_H / 2))
        parts.append(_box(xs[2], y, label, href, kind, title))
    parts.append(_box(xs[1], center_y, detail["key"], None, "self", "this product"))
    if not right:
        parts.append(
            f'<text x="{xs[2] + 6}" y="{center_y + BOX_H / 2 + 4}" font-size="12" '
            f'fill="{MUTED}">no downstream products yet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def history(port_history: dict[str, Any] | None) -> Markup:
    """Per run, oldest left: checks passed (green) and failed (red) as a stacked bar, and the
    rows published as a blue line (a hollow grey dot: that run did not publish)."""
    runs = list(reversed((port_history or {}).get("runs") or []))
    if not runs:
        return Markup('<p class="muted">No runs recorded yet.</p>')
    width, height, left, right, top, bottom = 640, 190, 44, 56, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / len(runs)
    bar_w = max(min(step * 0.6, 28), 3)
    max_checks = max(max(r["checks_passed"] + r["checks_failed"] for r in runs), 1)
    max_rows = max(max((r["rows"] or 0) for r in runs), 1)
    base = top + plot_h
    label = escape(port_history["label"]) if port_history else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="history" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="quality and freshness history of {label}">',
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#bdbdbd"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end" font-size="10">{max_checks}</text>',
        f'<text x="{left - 6}" y="{base}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{left + plot_w + 6}" y="{top + 8}" font-size="10" fill="{ROWS}">'
        f"{max_rows:,}</text>",
        f'<text x="{left + plot_w + 6}" y="{base}" font-size="10" fill="{ROWS}">0</text>',
        f'<rect x="{left}" y="{height - 12}" width="9" height="9" fill="{PASS}"/>'
        f'<text x="{left + 13}" y="{height - 4}" font-size="10">checks passed</text>'
        f'<rect x="{left + 95}" y="{height - 12}" width="9" height="9" fill="{FAIL}"/>'
        f'<text x="{left + 108}" y="{height - 4}" font-size="10">checks failed</text>'
        f'<line x1="{left + 190}" y1="{height - 8}" x2="{left + 204}" y2="{height - 8}" '
        f'stroke="{ROWS}" stroke-width="1.5"/>'
        f'<text x="{left + 208}" y="{height - 4}" font-size="10" fill="{ROWS}">'
        f"rows published (time runs left to right)</text>",
    ]
    points = []
    for index, run in enumerate(runs):
        cx = left + step * index + step / 2
        passed, failed = run["checks_passed"], run["checks_failed"]
        h_pass = plot_h * passed / max_checks
        h_fail = plot_h * failed / max_checks
        rows = run["rows"]
        tip = (
            f"{run['at']} run {run['run_id'][:8]}: {passed} checks passed, {failed} failed"
            + (f" ({', '.join(run['failed_checks'])})" if run["failed_checks"] else "")
            + (f"; {rows:,} rows published" if run["published"] else "; NOT published")
        )
        parts.append(f'<g class="run"><title>{escape(tip)}</title>')
        parts.append(
            f'<rect x="{cx - bar_w / 2:.1f}" y="{base - h_pass:.1f}" width="{bar_w:.1f}" '
            f'height="{h_pass:.1f}" fill="{PASS}" opacity="0.8"/>'
        )
        if failed:
            parts.append(
                f'<rect x="{cx - bar_w / 2:.1f}" y="{base - h_pass - h_fail:.1f}" '
                f'width="{bar_w:.1f}" height="{h_fail:.1f}" fill="{FAIL}"/>'
            )
        if run["published"] and rows is not None:
            cy = base - plot_h * rows / max_rows
            points.append(f"{cx:.1f},{cy:.1f}")
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{ROWS}"/>')
        else:
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{base - 4:.1f}" r="3.5" fill="white" stroke="{MUTED}"/>'
            )
        parts.append("</g>")
    if len(points) > 1:
        parts.insert(
            6,
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{ROWS}" '
            f'stroke-width="1.5"/>',
        )
    parts.append("</svg>")
    return Markup("".join(parts))

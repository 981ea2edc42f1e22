"""The entry point the mesh's `mesh generate` calls (named in pyproject.toml, `[tool.mesh]`).

The platform never imports this package: it loads the function the mesh names, so another
company's mesh names its own generator (or none) and `mesh_platform` stays generic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from operational.faults import FAULTS, inject
from operational.generate import generate
from operational.increment import append_day, existing_days


def generate_sources(
    out_dir: Path, scale: float, seed: int, faults: list[str], end: dt.date | None = None
) -> Iterator[str]:
    """Generate Daff's operational systems into ``out_dir``; yield one line per thing done.

    The window's last day is ``end`` (default: yesterday, UTC). Raises ValueError, before
    anything is written, when a fault kind is unknown."""
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(sorted(FAULTS))}")
    report = generate(out_dir, scale=scale, seed=seed, end=end)
    for fault in inject(out_dir, faults):
        yield f"[yellow]injected fault {fault.kind}[/]: {fault.detail} ({fault.source})"
    events = report.counts["play_events"]
    yield (
        f"generated operational data (scale {scale}, seed {seed}) in {report.seconds:.1f}s: "
        f"{events:,} play events ({events / max(report.seconds, 1e-9):,.0f}/s), "
        f"{report.counts['listeners']:,} listeners, {report.counts['tracks']:,} tracks "
        f"from {report.start} to {report.start + dt.timedelta(days=report.days - 1)} → {out_dir}"
    )


def append_next_day(out_dir: Path) -> Iterator[str]:
    """Land the next day of play events (the daily increment): the day after the stream's last
    day folder. Raises ValueError when that day has not ended yet (UTC): a day lands whole."""
    days = existing_days(out_dir)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    if days and days[-1] >= yesterday:
        earlier = yesterday - dt.timedelta(days=1)
        raise ValueError(
            f"the play events in {out_dir} already run to {days[-1]}: the next day lands after "
            "midnight UTC (a running `mesh dev` lands it by itself). To try the daily increment "
            f"now, generate a window that ends earlier (`mesh generate --end {earlier}`), then "
            "`mesh generate --append-day`"
        )
    day = append_day(out_dir)
    yield f"appended the play events of {day} to {out_dir / 'events' / 'plays'}"

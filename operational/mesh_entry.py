"""The entry point the mesh's `mesh generate` calls (named in pyproject.toml, `[tool.mesh]`).

The platform never imports this package: it loads the function the mesh names, so another
company's mesh names its own generator (or none) and `mesh_platform` stays generic.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from operational.faults import FAULTS, inject
from operational.generate import generate


def generate_sources(out_dir: Path, scale: float, seed: int, faults: list[str]) -> Iterator[str]:
    """Generate Daff's operational systems into ``out_dir``; yield one line per thing done.

    Raises ValueError, before anything is written, when a fault kind is unknown."""
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(sorted(FAULTS))}")
    report = generate(out_dir, scale=scale, seed=seed)
    for fault in inject(out_dir, faults):
        yield f"[yellow]injected fault {fault.kind}[/]: {fault.detail} ({fault.source})"
    events = report.counts["play_events"]
    yield (
        f"generated operational data (scale {scale}, seed {seed}) in {report.seconds:.1f}s: "
        f"{events:,} play events ({events / max(report.seconds, 1e-9):,.0f}/s), "
        f"{report.counts['listeners']:,} listeners, {report.counts['tracks']:,} tracks "
        f"→ {out_dir}"
    )

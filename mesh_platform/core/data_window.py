"""The days the mesh's operational data covers, when it says so.

Generated (or otherwise landed) source data may declare its window in ``manifest.json`` at the
top of the operational data dir: ``start`` (YYYY-MM-DD) and ``days``. The daily partitions start
at its first day and builds never ask for days after its last; sources without the file get the
partitions' own window.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

WINDOW_FILE = "manifest.json"


def declared_window(operational_dir: Path) -> tuple[date, date] | None:
    """(first day, last day) the operational data declares, or None when it declares none."""
    declared = Path(operational_dir) / WINDOW_FILE
    try:
        meta = json.loads(declared.read_text())
        start = date.fromisoformat(meta["start"])
        return start, start + timedelta(days=int(meta["days"]) - 1)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{declared}: the operational data's window must be a JSON object with `start` "
            f"(YYYY-MM-DD) and `days` (a whole number): {exc}; regenerate it with `mesh generate`"
        ) from None


def partitions_start(start: date, window: tuple[date, date] | None) -> date:
    """Where a product's daily partitions start: its ``partitioning.start`` or the data's first
    day, whichever is later (days before the data begins could only be 'Missing')."""
    return max(start, window[0]) if window else start

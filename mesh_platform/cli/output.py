"""One console for every verb: real stdout, wide enough for tables when not a terminal."""

from __future__ import annotations

import sys

from rich.console import Console


def console() -> Console:
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)

"""The resource limits of every consumer query (CLI, Python, HTTP API, portal), from ``MESH_QUERY_*``.

Read when a connection opens, never at import time, and checked so a typo fails naming the
variable:

- ``MESH_QUERY_TIMEOUT_S`` (default 60): seconds a query may run before it is interrupted;
- ``MESH_QUERY_MEMORY_LIMIT`` (default ``1GB``): DuckDB's ``memory_limit`` for the query's
  connection (a size with a unit, or a percentage of RAM);
- ``MESH_QUERY_TEMP_LIMIT`` (default ``4GB``): what the query may spill to its private
  temporary directory past the memory limit (DuckDB's ``max_temp_directory_size``);
- ``MESH_QUERY_MAX_ROWS`` (default 1,000,000): the rows a query returns at most; the cap is
  applied while DuckDB streams the result, so a bigger result is never built.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from mesh_platform.core.environment import MEMORY_LIMIT

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_LIMIT = "1GB"
DEFAULT_TEMP_LIMIT = "4GB"
DEFAULT_MAX_ROWS = 1_000_000
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class QueryLimits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    max_rows: int = DEFAULT_MAX_ROWS
    temp_limit: str = DEFAULT_TEMP_LIMIT


def _number(name: str, default: float, kind: type, what: str) -> float | int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={raw!r} is not {what}")
    return value


def _size(name: str, default: str, pattern: re.Pattern[str], what: str) -> str:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not pattern.match(raw):
        raise ValueError(f"{name}={raw!r} is not {what}")
    return raw


def query_limits() -> QueryLimits:
    """The limits in force now (``MESH_QUERY_*``, else the defaults)."""
    return QueryLimits(
        timeout_s=float(
            _number(
                "MESH_QUERY_TIMEOUT_S",
                DEFAULT_TIMEOUT_S,
                float,
                "a number of seconds above 0, e.g. 60 or 2.5",
            )
        ),
        memory_limit=_size(
            "MESH_QUERY_MEMORY_LIMIT",
            DEFAULT_MEMORY_LIMIT,
            MEMORY_LIMIT,
            "a memory size: a number with a unit (B, KB, MB, GB, TB, KiB…TiB) or a percentage "
            "of RAM, e.g. 1GB or 10%",
        ),
        max_rows=int(
            _number("MESH_QUERY_MAX_ROWS", DEFAULT_MAX_ROWS, int, "a whole number of rows above 0")
        ),
        temp_limit=_size(
            "MESH_QUERY_TEMP_LIMIT",
            DEFAULT_TEMP_LIMIT,
            _SIZE,
            "a size with a unit (B, KB, MB, GB, TB, KiB…TiB), e.g. 4GB",
        ),
    )

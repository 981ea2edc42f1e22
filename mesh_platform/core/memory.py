"""How much memory a build may use: one mesh-wide budget, divided among the domains at once.

``MESH_MEMORY_BUDGET`` (a size, e.g. ``3GB``, or a share of RAM, e.g. ``25%``) bounds the whole
build — the coordinating process and every domain's worker process. Each domain building at
the same time gets an equal share; its DuckDB (dbt's, then the platform's audit and publish
connection) gets that share minus what the worker process itself needs besides DuckDB
(Python, Dagster, dbt's parsed project, Soda: :data:`PROCESS_ALLOWANCE`). Domains build in
parallel only while each DuckDB still gets :data:`PARALLEL_MIN_SHARE`
(:func:`parallel_domains`). Past its limit DuckDB spills to ``<database>.tmp/`` next to the
domain's file in the data directory, which it removes when the connection closes.

``MESH_DUCKDB_MEMORY_LIMIT``, when set, wins: every DuckDB instance gets exactly that, whatever
the budget (a pod whose memory limit is known sets it, see infra/README.md).

Nothing here imports DuckDB or Dagster: the coordinator validates the settings before any
worker starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

BUDGET_VAR = "MESH_MEMORY_BUDGET"
DUCKDB_LIMIT_VAR = "MESH_DUCKDB_MEMORY_LIMIT"
# Set by the runner for its worker processes: how many domains build at the same time.
DOMAINS_AT_ONCE_VAR = "MESH_DOMAINS_AT_ONCE"

MIB = 1024 * 1024
GIB = 1024 * MIB
# A quarter of the machine, and no more than 3 GiB: at scale 50 (50 M play events) the whole
# build fits in 3 GiB with DuckDB spilling (bench/results/memory-scale-50.md); a bigger
# default would only grow DuckDB's caches, and the rest of the machine stays the user's.
DEFAULT_MEMORY_BUDGET = "25%"
DEFAULT_BUDGET_CAP = 3 * GIB
# What a domain's worker process holds besides DuckDB's buffer manager: Python with Dagster,
# dbt and its parsed manifest, Soda, Arrow buffers of the publish path, and the allocations
# DuckDB makes outside its buffer manager (measured at scale 50, bench/results/memory-scale-50.md).
PROCESS_ALLOWANCE = 640 * MIB
# The coordinating process (`mesh materialize`; 177 MiB at scale 50), which never imports
# Dagster when domains build in worker processes.
COORDINATOR_ALLOWANCE = 192 * MIB
# Below this a DuckDB instance spends its time spilling (or fails on what it cannot spill).
MIN_DUCKDB_LIMIT = 256 * MIB
# Domains build in parallel only while each DuckDB still gets this much: at scale 50, 832 MiB
# (3 GiB shared by two) slowed the demo's biggest domain's first build (255 s instead of 152 s,
# shared machine), and the small domains downstream of it, paired with 800 MiB each, spilled
# more CPU than they saved (bench/results/memory-scale-50.md). (Its rebuild of all its days,
# which failed with 832 MiB, now passes: build/window_rebuild.py.)
PARALLEL_MIN_SHARE = 1 * GIB
# ... unless the operational sources are small next to that share: then two at once cannot come
# near it, and building them in parallel hides each domain's fixed start-up cost. Measured with
# two at once and 800 MiB each: scale 10 (2.2 GB of sources, 2.75x the share) builds in 74.6 s
# against 79.8 s one at a time; scale 1 (218 MB) in 27.8 s against 35-38 s; scale 50 (11 GB)
# fails, as above. The factor stays near what passed.
PARALLEL_SOURCES_PER_SHARE = 3
# The default budget never goes below what one domain needs (a small laptop or pod still
# builds, one domain at a time); a budget the user sets that small fails, saying so.
DEFAULT_BUDGET_FLOOR = COORDINATOR_ALLOWANCE + PROCESS_ALLOWANCE + 2 * MIN_DUCKDB_LIMIT

MEMORY_SIZE = re.compile(
    r"^\s*(?P<number>\d+(\.\d+)?)\s*(?P<unit>B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)\s*$", re.IGNORECASE
)
_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def checked_size(name: str, value: str) -> str:
    """``value`` of the variable ``name`` if it is a memory size DuckDB takes, else a clear error."""
    if not MEMORY_SIZE.match(value):
        raise ValueError(
            f"{name}={value!r} is not a memory size: use a number with a unit "
            "(B, KB, MB, GB, TB, KiB…TiB) or a percentage of RAM, e.g. 2GB or 50%"
        )
    return value.strip()


def total_memory() -> int:
    """Bytes of RAM this process may use: the machine's, or its container's limit if lower
    (cgroup v2 ``memory.max`` or v1 ``memory.limit_in_bytes``)."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in (
        Path("/sys/fs/cgroup/memory.max"),
        Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    ):
        try:
            text = limit_file.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < physical:
            return int(text)
    return physical


def size_bytes(name: str, value: str, ram: int | None = None) -> int:
    """Bytes meant by a checked size (``2GB``, ``1.5GiB``, ``25%`` of ``ram``)."""
    match = MEMORY_SIZE.match(value)
    if match is None:
        checked_size(name, value)  # raises, naming the variable
        raise AssertionError(value)
    number, unit = float(match["number"]), match["unit"].lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise ValueError(f"{name}={value!r}: a share of RAM is between 0% and 100%")
        return int(number / 100 * (ram if ram is not None else total_memory()))
    return int(number * _UNITS[unit])


def memory_budget(ram: int | None = None) -> int:
    """The mesh-wide budget in bytes: ``MESH_MEMORY_BUDGET``, or 25 % of RAM up to 3 GiB (and
    at least :data:`DEFAULT_BUDGET_FLOOR`)."""
    value = os.environ.get(BUDGET_VAR)
    if value:
        return size_bytes(BUDGET_VAR, value, ram)
    share = min(size_bytes(BUDGET_VAR, DEFAULT_MEMORY_BUDGET, ram), DEFAULT_BUDGET_CAP)
    return max(share, DEFAULT_BUDGET_FLOOR)


def domains_at_once() -> int:
    """How many domains build at the same time in this build: the runner says; a run started
    elsewhere (Dagster's UI, a schedule) assumes what `mesh materialize` would do with two
    domains ready (:func:`parallel_domains`; one on a single core)."""
    value = os.environ.get(DOMAINS_AT_ONCE_VAR, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return parallel_domains(max(1, min(os.cpu_count() or 1, 2)))


def duckdb_share(budget: int, at_once: int) -> int:
    """Bytes of one domain's DuckDB: the budget less the coordinator, split among the domains
    at once, less each worker process's own memory."""
    return (budget - COORDINATOR_ALLOWANCE) // max(at_once, 1) - PROCESS_ALLOWANCE


def check_memory_settings() -> None:
    """Fail now, naming the variable, if ``MESH_MEMORY_BUDGET`` or ``MESH_DUCKDB_MEMORY_LIMIT``
    is not a memory size (before a build starts anything)."""
    memory_budget()
    if explicit := os.environ.get(DUCKDB_LIMIT_VAR):
        checked_size(DUCKDB_LIMIT_VAR, explicit)


def parallel_domains(
    wanted: int, budget: int | None = None, sources_bytes: int | None = None
) -> int:
    """How many of ``wanted`` domains may build at once within the budget: as many as still
    give each DuckDB :data:`PARALLEL_MIN_SHARE`, or, with less, a share at least
    1/:data:`PARALLEL_SOURCES_PER_SHARE` of the operational sources' bytes (``sources_bytes``,
    default: the current environment's); at least one. ``MESH_DUCKDB_MEMORY_LIMIT`` bounds each
    DuckDB itself: then the budget does not limit the parallelism."""
    if os.environ.get(DUCKDB_LIMIT_VAR):
        return max(wanted, 1)
    budget = memory_budget() if budget is None else budget
    sources = operational_bytes() if sources_bytes is None else sources_bytes

    def enough(share: int) -> bool:
        small = share >= MIN_DUCKDB_LIMIT and sources <= PARALLEL_SOURCES_PER_SHARE * share
        return share >= PARALLEL_MIN_SHARE or small

    at_once = max(wanted, 1)
    while at_once > 1 and not enough(duckdb_share(budget, at_once)):
        at_once -= 1
    return at_once


def operational_bytes() -> int:
    """Bytes of the current environment's operational sources (0 when there are none yet)."""
    from mesh_platform.core.environment import get_environment

    total = 0
    for folder, _, files in os.walk(get_environment().operational_dir):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def duckdb_memory_limit() -> str:
    """Each DuckDB instance's ``memory_limit`` in this build, validated up front.

    ``MESH_DUCKDB_MEMORY_LIMIT`` if set (it wins); otherwise this domain's share of
    ``MESH_MEMORY_BUDGET`` (:func:`duckdb_share`), in MiB. A budget too small to give each
    domain's DuckDB :data:`MIN_DUCKDB_LIMIT` fails, saying what to raise it to.
    """
    explicit = os.environ.get(DUCKDB_LIMIT_VAR)
    if explicit:
        return checked_size(DUCKDB_LIMIT_VAR, explicit)
    budget, at_once = memory_budget(), domains_at_once()
    share = duckdb_share(budget, at_once)
    if share < MIN_DUCKDB_LIMIT:
        needed = (MIN_DUCKDB_LIMIT + PROCESS_ALLOWANCE) * at_once + COORDINATOR_ALLOWANCE
        value = os.environ.get(BUDGET_VAR) or f"{DEFAULT_MEMORY_BUDGET} of RAM, up to 3GiB"
        raise ValueError(
            f"{BUDGET_VAR}={value} ({budget // MIB} MiB) is too small for {at_once} domain(s) "
            f"building at once: each domain's process needs {PROCESS_ALLOWANCE // MIB} MiB "
            f"besides DuckDB and its DuckDB at least {MIN_DUCKDB_LIMIT // MIB} MiB. Set "
            f"{BUDGET_VAR} to {-(-needed // MIB)}MiB or more, or bound each DuckDB yourself "
            f"with {DUCKDB_LIMIT_VAR}"
        )
    return f"{share // MIB}MiB"

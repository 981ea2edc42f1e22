"""One new day: its partition of every daily product, then only what is downstream of it.

``mesh materialize --day YYYY-MM-DD`` runs what the schedules and the eager automation would
run for a day that just landed, without waiting for them:

1. every domain owning daily-partitioned products runs them for that day only (one run with
   ``partition_key``, as the product's schedule does);
2. each domain then materializes the unpartitioned assets downstream of what changed —
   inside its own asset graph, and across domains through the output ports' asset keys
   (what the eager automation reacts to), consumers after producers;
3. domains with nothing downstream are not started at all.

Independent domains run side by side in spawned worker processes, as in a full
``materialize_mesh``; a day's cost is the day's data and what it feeds, not the history.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import date

from mesh_platform.build.execute import DomainRun
from mesh_platform.core.domain import Domain, load_all_domains
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.memory import parallel_domains
from mesh_platform.run.runner import (
    day_window,
    domain_order,
    domain_upstreams,
    engine_output_to,
    require_operational_data,
    run_in_domain_order,
)


def affected_domains(domains: list[Domain]) -> list[Domain]:
    """Domains owning daily products, and every domain reading (transitively) from one."""
    upstream = domain_upstreams(domains)
    affected = {d.name for d in domains if any(p.partitioning for p in d.products)}
    changed = True
    while changed:
        grown = {d for d, ups in upstream.items() if ups & affected} | affected
        changed, affected = grown != affected, grown
    return [d for d in domains if d.name in affected]


def check_day(day: str) -> date:
    """The day as a date, within the operational data's window; a clear error otherwise."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"--day {day!r} is not a date: use YYYY-MM-DD") from None
    env = apply_tool_env()
    domains = load_all_domains(env.domains_dir)
    require_operational_data(env, domains)
    first, last = day_window(env, domains)
    if not first <= parsed <= last:
        raise ValueError(
            f"--day {parsed}: the daily products cover {first} to {last}; land that day's "
            "data first or pick a day in the window"
        )
    return parsed


def _materialize_day_logged(domain: Domain, day: str, changed: set[str]) -> DomainRun:
    """:func:`materialize_day_in_domain` with dbt's console output sent to ``logs/<domain>.log``."""
    from mesh_platform.build.execute import materialize_day_in_domain

    env = apply_tool_env()
    log_dir = env.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{domain.name}.log").open("a") as log, contextlib.redirect_stdout(log):
        if domain.engine == "spark":
            engine_output_to(log)
        return materialize_day_in_domain(domain, day, changed)


def materialize_day(
    day: str,
    only: list[str] | None = None,
    on_start: Callable[[str], None] = lambda _: None,
    on_done: Callable[[DomainRun], None] = lambda _: None,
    workers: int | None = None,
) -> list[DomainRun]:
    """Run one day through the mesh (see the module docstring); ``only`` limits the domains."""
    env = apply_tool_env()
    day = check_day(day).isoformat()
    domains = affected_domains(domain_order(load_all_domains(env.domains_dir)))
    if only:
        unknown = set(only) - {d.name for d in load_all_domains(env.domains_dir)}
        if unknown:
            raise ValueError(f"unknown domain(s) {sorted(unknown)}")
        domains = [d for d in domains if d.name in only]
    upstream = domain_upstreams(domains)

    def work(domain: Domain, finished: dict[str, DomainRun]) -> tuple:
        changed = set().union(*(finished[u].materialized for u in upstream[domain.name]))
        return _materialize_day_logged, domain, day, changed

    # as many at once as the memory budget allows (core/memory.py)
    workers = parallel_domains(max(1, min(workers or os.cpu_count() or 1, len(domains) or 1)))
    return run_in_domain_order(domains, work, workers, on_start, on_done)

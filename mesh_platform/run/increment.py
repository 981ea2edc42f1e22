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
import socket
from collections.abc import Callable
from datetime import date

from mesh_platform.core.domain import Domain, load_all_domains
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.run.runner import (
    HOST_TAG,
    PID_TAG,
    QUIET_LOGS,
    DomainRun,
    _collect,
    domain_order,
    domain_upstreams,
    generated_window,
    reap_dead_runs,
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
    first, last = generated_window(apply_tool_env())
    if not first <= parsed <= last:
        raise ValueError(
            f"--day {parsed}: the operational data covers {first} to {last}; land that day's "
            "events first (e.g. `python -m operational.increment`) or pick a day in the window"
        )
    return parsed


def materialize_day_in_domain(domain: Domain, day: str, changed: set[str]) -> DomainRun:
    """The domain's daily partitions for ``day``, then what is downstream of them and of the
    upstream assets in ``changed`` (asset key strings)."""
    import dagster as dg

    from mesh_platform.build.definitions import build_domain_definitions
    from mesh_platform.build.instance import get_instance

    env = apply_tool_env()
    log_dir = env.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{domain.name}.log").open("a") as log, contextlib.redirect_stdout(log):
        defs = build_domain_definitions(domain.path)
        graph = defs.resolve_asset_graph()
        job = defs.resolve_implicit_global_asset_job_def()
        instance = get_instance()
        reap_dead_runs(instance)
        materializable = set(graph.materializable_asset_keys)
        partitioned = {k for k in materializable if graph.get(k).partitions_def}
        known = set(graph.get_all_asset_keys())
        seeds = {dg.AssetKey.from_user_string(k) for k in changed} & known | partitioned
        downstream = (
            dg.AssetSelection.assets(*seeds).downstream().resolve(graph) if seeds else set()
        )
        plain = (set(downstream) & materializable) - partitioned
        run = DomainRun(domain=domain.name, spec=domain)
        for keys, extra in ((partitioned, {"partition_key": day}), (plain, {})):
            if not keys:
                continue
            result = job.execute_in_process(
                instance=instance,
                asset_selection=sorted(keys),
                # which process runs it, so a later run can fail it if this one is killed
                tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
                raise_on_error=False,
                run_config=QUIET_LOGS,
                **extra,
            )
            run.run_ids.append(result.run_id)
            _collect(run, result)
    return run


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
        return materialize_day_in_domain, domain, day, changed

    workers = max(1, min(workers or os.cpu_count() or 1, len(domains) or 1))
    return run_in_domain_order(domains, work, workers, on_start, on_done)

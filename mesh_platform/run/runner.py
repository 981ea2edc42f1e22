"""Materialize whole domains through Dagster, in dependency order, on the local instance.

Used by ``mesh materialize`` and ``mesh demo``: each domain is one run per partitioning (its
daily-partitioned products as one single-run backfill over the generated days, then the rest),
recorded in the same Dagster instance ``make dev`` shows.

The coordinating process never imports Dagster (≈ 6 s here): domains run in spawned worker
processes, which import it and open the instance as soon as the pool starts, while the
coordinator plans — instead of one after the other.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import UTC, date, datetime, timedelta
from graphlib import CycleError, TopologicalSorter

from mesh_platform.build.execute import DomainRun, materialize_domain
from mesh_platform.core.address import PortAddress
from mesh_platform.core.data_window import WINDOW_FILE as WINDOW_FILE
from mesh_platform.core.data_window import declared_window
from mesh_platform.core.descriptor import OperationalInput
from mesh_platform.core.domain import Domain, load_all_domains
from mesh_platform.core.environment import MeshEnvironment, apply_tool_env, temporary_environ
from mesh_platform.core.memory import (
    DOMAINS_AT_ONCE_VAR,
    check_memory_settings,
    duckdb_memory_limit,
    parallel_domains,
)


def domain_upstreams(domains: list[Domain]) -> dict[str, set[str]]:
    """For each domain, the other domains (among ``domains``) whose ports it reads."""
    names = {d.name for d in domains}
    return {
        d.name: (
            {PortAddress.parse(p).domain for prod in d.products for p in prod.upstream_ports}
            & names
        )
        - {d.name}
        for d in domains
    }


def domain_order(domains: list[Domain]) -> list[Domain]:
    """Domains sorted so that every upstream port's domain runs before its consumers."""
    by_name = {d.name: d for d in domains}
    try:
        order = list(TopologicalSorter(domain_upstreams(domains)).static_order())
    except CycleError as exc:
        raise RuntimeError(f"domains depend on each other in a cycle: {exc.args[1]}") from None
    return [by_name[n] for n in order]


# A data source may say which days it holds: `start` and `days` in this file at the top of the
# operational data folder (the demo's generator writes it). Without it, the partitions decide.


def require_operational_data(env: MeshEnvironment, domains: list[Domain]) -> None:
    """Fail clearly before a build that reads operational systems finds no data to read."""
    folder = env.operational_dir
    needs_sources = any(
        isinstance(i, OperationalInput) and i.kind != "seed"
        for d in domains
        for p in d.products
        for i in p.input_ports
    )  # a domain built only from its dbt project's seeds needs no operational data
    if needs_sources and (not folder.is_dir() or not any(folder.iterdir())):
        raise FileNotFoundError(
            f"no operational data in {folder}: run `mesh generate` (or `make demo`), or put "
            "your own sources there"
        )


def day_window(env: MeshEnvironment, domains: list[Domain]) -> tuple[date, date]:
    """The days a build of the daily products covers.

    Dagster's daily partitions run from the first day a daily product declares
    (``partitioning.start``) to the last complete day (UTC): that is the window. Source data
    that says where it starts and ends (:data:`WINDOW_FILE`) narrows it, so a build never asks
    for days that cannot have data.
    """
    folder = env.operational_dir
    last = datetime.now(UTC).date() - timedelta(days=1)
    starts = [p.partitioning.start for d in domains for p in d.products if p.partitioning]
    first = min(starts, default=last)
    declared = declared_window(folder)
    if declared:
        first, last = max(first, declared[0]), min(last, declared[1])
    return first, last


def _materialize_logged(
    domain: Domain, window: tuple[date, date], full_refresh: bool = False
) -> DomainRun:
    """Run one domain with dbt's console output sent to ``logs/<domain>.log``.

    Module-level so a worker process can run it: each worker gets its own environment, so the
    per-invocation environment switch of one domain never meets another's.
    """
    env = apply_tool_env()
    log_dir = env.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{domain.name}.log").open("a") as log, contextlib.redirect_stdout(log):
        if domain.engine == "spark":
            engine_output_to(log)
        from mesh_platform.build.instance import get_instance

        return materialize_domain(domain, get_instance(), window, full_refresh)


def engine_output_to(log) -> None:
    """Send this worker's own stdout and stderr (file descriptors 1 and 2, which the Spark
    driver's JVM inherits) to the domain's log: the run's summary is the console's, the JVM's
    start-up lines are not. Only in a worker process of its own (a Spark domain's)."""
    log.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)


def materialize_mesh(
    only: list[str] | None = None,
    on_start: Callable[[str], None] = lambda _: None,
    on_done: Callable[[DomainRun], None] = lambda _: None,
    workers: int | None = None,
    full_refresh: bool = False,
) -> list[DomainRun]:
    """Materialize every domain (or ``only`` those): upstream domains first, others in parallel.

    ``full_refresh`` rebuilds incremental consumer models fully, whatever changed upstream.

    Domains own separate DuckDB files, so independent domains run at the same time (one
    worker process per core by default); a domain starts once every domain it reads from is
    done — whether that run succeeded or not, consumers then read the last good ports.
    """
    env = apply_tool_env()
    check_memory_settings()  # a typo in a memory setting fails before anything runs
    domains = domain_order(load_all_domains(env.domains_dir))
    unknown = set(only or []) - {d.name for d in domains}
    if unknown:
        raise ValueError(f"unknown domain(s) {sorted(unknown)}; known: {[d.name for d in domains]}")
    selected = [d for d in domains if not only or d.name in only]
    require_operational_data(env, selected)
    window = day_window(env, domains)
    # one domain per core, as many as the memory budget allows (core/memory.py)
    workers = parallel_domains(min(workers or os.cpu_count() or 1, len(selected)))
    if workers <= 1 and not uses_spark(selected):
        runs = []
        with domains_at_once(1):
            for domain in selected:
                on_start(domain.name)
                runs.append(_materialize_logged(domain, window, full_refresh))
                on_done(runs[-1])
        return runs
    return _materialize_parallel(selected, window, workers, on_start, on_done, full_refresh)


@contextlib.contextmanager
def domains_at_once(count: int):
    """Tell this process and the workers it spawns how many domains build at once: each
    domain's DuckDB gets its share of MESH_MEMORY_BUDGET (core/memory.py). The memory settings
    are checked here, before any worker starts, so a bad value fails the build at once."""
    with temporary_environ({DOMAINS_AT_ONCE_VAR: str(max(count, 1))}):
        duckdb_memory_limit()  # raises naming MESH_MEMORY_BUDGET / MESH_DUCKDB_MEMORY_LIMIT
        yield


def uses_spark(domains: list[Domain]) -> bool:
    """Does any of ``domains`` build on Spark in this run (domain.yaml or ``MESH_ENGINE``)?"""
    return any(d.engine == "spark" for d in domains)


def _materialize_parallel(
    selected, window, workers, on_start, on_done, full_refresh=False
) -> list[DomainRun]:
    return run_in_domain_order(
        selected,
        lambda domain, _: (_materialize_logged, domain, window, full_refresh),
        workers,
        on_start,
        on_done,
    )


def warm_worker() -> None:
    """Import what a domain's run needs and open the instance (creating it on first use)."""
    from mesh_platform.build.definitions import build_domain_definitions  # noqa: F401
    from mesh_platform.build.instance import get_instance
    from mesh_platform.build.step import run_domain_step  # noqa: F401  (loaded lazily by a step)

    get_instance()


def _end_worker_without_teardown() -> None:
    """End a worker process as soon as its pool lets it go, without the interpreter's teardown
    of the heap Dagster, dbt and DuckDB built in it (≈ 1.4 s per worker, which every
    ``mesh materialize`` waited for: bench/results/worker-exit.md).

    Registered when the worker starts, so it runs last among the exit handlers: those the
    libraries register later (pyspark's, which stops the Spark driver's JVM) have run by
    then. Nothing is lost: every domain's run returned
    its result before the pool sent the worker home, its writes committed (Dagster's event
    log, the published ports, DuckDB's files and their write-ahead logs) — all that remains
    is buffered console and log output, flushed here. The exit status is 0: a worker that
    died is reported by the pool itself (a broken pool), not by its status.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _start_worker() -> None:
    atexit.register(_end_worker_without_teardown)


def run_in_domain_order(
    domains: list[Domain],
    work: Callable[[Domain, dict[str, DomainRun]], tuple],
    workers: int,
    on_start: Callable[[str], None],
    on_done: Callable[[DomainRun], None],
) -> list[DomainRun]:
    """Run each domain in a spawned worker once every domain it reads from has finished.

    ``work(domain, finished)`` returns ``(function, *args)`` for the domain's worker, given the
    runs finished so far (a consumer may depend on what its producers materialized).
    """
    upstream = domain_upstreams(domains)
    finished: dict[str, DomainRun] = {}
    running: dict[Future, str] = {}
    # A Spark domain's build holds a Spark driver whose metastore is fixed for the life of its
    # JVM: each domain then gets a fresh worker process (and no warm-up, which would use it).
    spark = uses_spark(domains)
    with (
        domains_at_once(min(workers, len(domains))),
        ProcessPoolExecutor(
            max(workers, 1),
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=1 if spark else None,
            initializer=_start_worker,
        ) as pool,
    ):
        # one warm-up per worker: each submit while none is idle starts a worker, so every
        # worker imports Dagster now rather than when its first domain is due (a warm-up that
        # fails is not lost: the domain's own run opens the instance again and reports it)
        for _ in range(0 if spark else min(workers, len(domains))):
            pool.submit(warm_worker)
        reported: list[DomainRun] = []
        while True:
            started = set(running.values()) | set(finished)
            for domain in domains:
                if domain.name not in started and upstream[domain.name] <= set(finished):
                    on_start(domain.name)
                    running[pool.submit(*work(domain, finished))] = domain.name
            # the consumers of what just finished are started above before it is reported
            # here: a report may read the published ports (the CLI's rows), which takes a
            # while the first time, and no consumer should wait for it
            for run in reported:
                on_done(run)
            if len(finished) == len(domains):
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            reported = []
            for future in done:
                run = future.result()
                finished[running.pop(future)] = run
                reported.append(run)
    return [finished[d.name] for d in domains]

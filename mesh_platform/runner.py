"""Materialize whole domains through Dagster, in dependency order, on the local instance.

Used by ``mesh materialize`` and ``mesh demo``: each domain is one run per partitioning (its
daily-partitioned products as one single-run backfill over the generated days, then the rest),
recorded in the same Dagster instance ``make dev`` shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from graphlib import CycleError, TopologicalSorter

import dagster as dg

from mesh_platform.definitions import build_domain_definitions
from mesh_platform.domain import Domain, load_all_domains
from mesh_platform.environment import MeshEnvironment, apply_tool_env
from mesh_platform.instance import get_instance

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass
class CheckTally:
    passed: int = 0
    failed: int = 0


@dataclass
class DomainRun:
    domain: str
    spec: Domain | None = None
    run_ids: list[str] = field(default_factory=list)
    success: bool = True
    errors: list[str] = field(default_factory=list)
    checks: dict[str, CheckTally] = field(default_factory=dict)  # by asset key string
    materialized: set[str] = field(default_factory=set)


def domain_order(domains: list[Domain]) -> list[Domain]:
    """Domains sorted so that every upstream port's domain runs before its consumers."""
    by_name = {d.name: d for d in domains}
    graph: dict[str, set[str]] = {}
    for d in domains:
        ups = {p.split(".")[0] for prod in d.products for p in prod.upstream_ports}
        graph[d.name] = {u for u in ups if u in by_name and u != d.name}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise RuntimeError(f"domains depend on each other in a cycle: {exc.args[1]}") from None
    return [by_name[n] for n in order]


def generated_window(env: MeshEnvironment) -> tuple[date, date]:
    """First and last day of generated operational data, from the generator's manifest."""
    manifest = env.operational_dir / "manifest.json"
    if not manifest.exists():
        raise FileNotFoundError(
            f"no operational data in {env.operational_dir}: run `mesh generate` (or `make demo`)"
        )
    meta = json.loads(manifest.read_text())
    start = date.fromisoformat(meta["start"])
    return start, start + timedelta(days=int(meta["days"]) - 1)


def materialize_domain(
    domain: Domain, instance: dg.DagsterInstance, window: tuple[date, date]
) -> DomainRun:
    defs = build_domain_definitions(domain.path)
    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    materializable = [k for k in graph.materializable_asset_keys]
    partitioned = [k for k in materializable if graph.get(k).partitions_def]
    plain = [k for k in materializable if not graph.get(k).partitions_def]
    run = DomainRun(domain=domain.name, spec=domain)
    for keys, tags in ((partitioned, _range_tags(window)), (plain, {})):
        if not keys:
            continue
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys,
            tags=tags,
            raise_on_error=False,
            run_config=QUIET_LOGS,
        )
        run.run_ids.append(result.run_id)
        _collect(run, result)
    return run


def _range_tags(window: tuple[date, date]) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": window[0].isoformat(),
        "dagster/asset_partition_range_end": window[1].isoformat(),
    }


def _collect(run: DomainRun, result: dg.ExecuteInProcessResult) -> None:
    for evaluation in result.get_asset_check_evaluations():
        tally = run.checks.setdefault(evaluation.asset_key.to_user_string(), CheckTally())
        if evaluation.passed:
            tally.passed += 1
        else:
            tally.failed += 1
    for mat in result.get_asset_materialization_events():
        run.materialized.add(mat.asset_key.to_user_string())
    if not result.success:
        run.success = False
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                run.errors.append(error.message.strip() if error else event.message)


def materialize_mesh(
    only: list[str] | None = None,
    on_start: Callable[[str], None] = lambda _: None,
    on_done: Callable[[DomainRun], None] = lambda _: None,
) -> list[DomainRun]:
    """Materialize every domain (or ``only`` those), upstream domains first."""
    env = apply_tool_env()
    domains = domain_order(load_all_domains(env.domains_dir))
    unknown = set(only or []) - {d.name for d in domains}
    if unknown:
        raise ValueError(f"unknown domain(s) {sorted(unknown)}; known: {[d.name for d in domains]}")
    window = generated_window(env)
    instance = get_instance()
    runs = []
    for domain in domains:
        if only and domain.name not in only:
            continue
        on_start(domain.name)
        run = materialize_domain(domain, instance, window)
        on_done(run)
        runs.append(run)
    return runs

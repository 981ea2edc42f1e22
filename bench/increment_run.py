"""What the mesh runs for one new day: the new partition, then everything downstream of it.

The platform has no verb for this yet (see the report's recommendations: it belongs in
``mesh_platform.runner`` as ``materialize_mesh(partition_key=..., downstream_only=True)``), so
it is assembled here from the platform's own pieces, exactly as its automation would run it:

1. every domain that owns daily-partitioned products runs them for ``--day`` only (one run,
   ``partition_key``, like the product's schedule does);
2. each domain then materializes the unpartitioned assets downstream of what changed —
   downstream inside the domain's asset graph, and across domains through the output ports'
   asset keys (what the eager automation sensors react to), consumers after producers;
3. domains with nothing downstream (podcasts) are not started at all.

Independent domains run side by side in spawned worker processes, one per core, like
``materialize_mesh`` does, so increment and full build differ only in what they run.

    MESH_DATA_DIR=DIR python -m bench.increment_run --day 2026-04-01 --report out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import dagster as dg

from mesh_platform.definitions import build_domain_definitions
from mesh_platform.domain import Domain, load_all_domains
from mesh_platform.environment import apply_tool_env
from mesh_platform.instance import get_instance
from mesh_platform.runner import QUIET_LOGS, DomainRun, _collect, domain_order, domain_upstreams


def affected_domains(domains: list[Domain]) -> list[Domain]:
    """Domains owning partitioned products, and every domain reading from one of those."""
    upstream = domain_upstreams(domains)
    affected = {d.name for d in domains if any(p.partitioning for p in d.products)}
    changed = True
    while changed:
        grown = {d for d, ups in upstream.items() if ups & affected} | affected
        changed, affected = grown != affected, grown
    return [d for d in domains if d.name in affected]


def run_domain_increment(domain: Domain, day: str, changed: set[str]) -> tuple[DomainRun, dict]:
    """Materialize the domain's partitions for ``day`` and what is downstream of ``changed``."""
    env = apply_tool_env()
    log_dir = env.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{domain.name}.log").open("a") as log, contextlib.redirect_stdout(log):
        started = time.perf_counter()
        defs = build_domain_definitions(domain.path)
        graph = defs.resolve_asset_graph()
        job = defs.resolve_implicit_global_asset_job_def()
        instance = get_instance()
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
                raise_on_error=False,
                run_config=QUIET_LOGS,
                **extra,
            )
            run.run_ids.append(result.run_id)
            _collect(run, result)
        info = {
            "domain": domain.name,
            "seconds": round(time.perf_counter() - started, 3),
            "partitioned": sorted(k.to_user_string() for k in partitioned),
            "downstream": sorted(k.to_user_string() for k in plain),
            "run_ids": run.run_ids,
            "success": run.success,
            "errors": run.errors,
        }
    return run, info


def run_increment(day: str, workers: int | None = None) -> list[dict]:
    env = apply_tool_env()
    domains = affected_domains(domain_order(load_all_domains(env.domains_dir)))
    get_instance()  # create the instance before workers race to
    upstream = domain_upstreams(domains)
    workers = max(1, min(workers or os.cpu_count() or 1, len(domains)))
    finished: dict[str, tuple[DomainRun, dict]] = {}
    running = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        while len(finished) < len(domains):
            started = set(running.values()) | set(finished)
            for domain in domains:
                if domain.name not in started and upstream[domain.name] <= set(finished):
                    changed = set().union(
                        *(finished[u][0].materialized for u in upstream[domain.name])
                    )
                    future = pool.submit(run_domain_increment, domain, day, changed)
                    running[future] = domain.name
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished[running.pop(future)] = future.result()
    return [finished[d.name][1] for d in domains]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.increment_run")
    parser.add_argument("--day", required=True, help="the new partition, YYYY-MM-DD")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    results = run_increment(args.day)
    text = json.dumps(results, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)
    sys.exit(0 if all(r["success"] for r in results) else 1)


if __name__ == "__main__":
    main()

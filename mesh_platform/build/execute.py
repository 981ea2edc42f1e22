"""Executing a domain's assets in this process on the Dagster instance, and collecting the
outcome as plain records the CLI can print without importing Dagster.

``run`` decides which domains run, in which order and in which worker; this module is what a
worker calls. Runs are tagged with the executing process and host so that a later run can fail
a run whose process was killed (see :func:`reap_dead_runs`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from mesh_platform.core.domain import Domain
from mesh_platform.ports.changes import FULL_REFRESH_TAG

if TYPE_CHECKING:
    import dagster as dg

# The run's events live in the instance; the CLI prints its own summary of them.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# Which process executes a run in-process, so a later run can tell that it died.
PID_TAG = "mesh/pid"
HOST_TAG = "mesh/host"


@dataclass
class CheckTally:
    passed: int = 0
    failed: int = 0
    warned: int = 0


@dataclass
class DomainRun:
    domain: str
    spec: Domain | None = None
    run_ids: list[str] = field(default_factory=list)
    success: bool = True
    errors: list[str] = field(default_factory=list)
    checks: dict[str, CheckTally] = field(default_factory=dict)  # by asset key string
    materialized: set[str] = field(default_factory=set)


def materialize_domain(
    domain: Domain,
    instance: dg.DagsterInstance,
    window: tuple[date, date],
    full_refresh: bool = False,
) -> DomainRun:
    from mesh_platform.build.definitions import build_domain_definitions

    defs = build_domain_definitions(domain.path)
    graph = defs.resolve_asset_graph()
    materializable = [k for k in graph.materializable_asset_keys]
    partitioned = [k for k in materializable if graph.get(k).partitions_def]
    plain = [k for k in materializable if not graph.get(k).partitions_def]
    # the operational sources are observed in the domain's first run, before what reads them
    # is built (a build recorded before its sources' observation would show as unsynced)
    (partitioned if partitioned else plain).extend(sorted(graph.observable_asset_keys))
    run = DomainRun(domain=domain.name, spec=domain)
    reap_dead_runs(instance)
    # consumers rebuild incremental models from the first changed upstream day, unless asked
    extra = {FULL_REFRESH_TAG: "true"} if full_refresh else {}
    for keys, tags in ((partitioned, {**_range_tags(window), **extra}), (plain, extra)):
        if not keys:
            continue
        result = _execute(defs, domain, instance, keys, tags)
        run.run_ids.append(result.run_id)
        _collect(run, result)
    return run


def _execute(
    defs: dg.Definitions,
    domain: Domain,
    instance: dg.DagsterInstance,
    keys,
    tags: dict[str, str],
    partition_key: str | None = None,
) -> dg.ExecuteInProcessResult:
    """A run of the domain's job (its runs show under the domain in Dagster's UI), tagged
    with the executing process so a later run can fail it if this process is killed."""
    from mesh_platform.build.definitions import domain_job_name
    from mesh_platform.build.job_run import execute_as_location_run
    from mesh_platform.core.environment import get_environment

    return execute_as_location_run(
        defs.resolve_job_def(domain_job_name(domain.name)),
        instance,
        domain.name,
        str(get_environment().repo_root),
        asset_selection=sorted(keys),
        tags={**tags, PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
        run_config=QUIET_LOGS,
        partition_key=partition_key,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs of this host whose process was killed, and free their pool slots.

    A run executed in-process that is SIGKILLed never reports its end: it stays STARTED and,
    worse, keeps its domain's pool slot, so the next run of the domain would wait for it
    forever. Its process id (run tag) tells that it is gone. Returns the reaped run ids.

    Why not Dagster's run monitoring: it is the daemon's, and it watches runs started by a run
    launcher through their run worker; a run executed in-process by ``mesh materialize`` has
    no run worker and no daemon is running, so nothing would ever fail it. The production
    topology (daemon + run launcher) keeps Dagster's own monitoring on.
    """
    import dagster as dg

    host = socket.gethostname()
    unfinished = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
    reaped = []
    for record in instance.get_run_records(
        filters=dg.RunsFilter(statuses=unfinished, tags={HOST_TAG: host})
    ):
        dagster_run = record.dagster_run
        pid = dagster_run.tags.get(PID_TAG, "")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            dagster_run, f"process {pid} executing this run died (killed) before it ended"
        )
        reaped.append(dagster_run.run_id)
    for run_id in instance.event_log_storage.get_concurrency_run_ids():
        dagster_run = instance.get_run_by_id(run_id)
        if dagster_run is None or dagster_run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return reaped


def _range_tags(window: tuple[date, date]) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": window[0].isoformat(),
        "dagster/asset_partition_range_end": window[1].isoformat(),
    }


def _collect(run: DomainRun, result: dg.ExecuteInProcessResult) -> None:
    import dagster as dg

    for evaluation in result.get_asset_check_evaluations():
        tally = run.checks.setdefault(evaluation.asset_key.to_user_string(), CheckTally())
        if evaluation.passed:
            tally.passed += 1
        elif evaluation.severity == dg.AssetCheckSeverity.WARN:
            tally.warned += 1  # a warning: reported, never blocking
        else:
            tally.failed += 1
    for mat in result.get_asset_materialization_events():
        run.materialized.add(mat.asset_key.to_user_string())
    if not result.success:
        run.success = False
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                message = error.message.strip() if error else event.message or ""
                run.errors.append(_without_exception_class(message))


def _without_exception_class(message: str) -> str:
    """'dagster._core...Failure: domain x …' → 'domain x …': users need the reason, not the type."""
    head, sep, rest = message.partition(": ")
    return rest if sep and "." in head and " " not in head else message


def materialize_day_in_domain(domain: Domain, day: str, changed: set[str]) -> DomainRun:
    """The domain's daily partitions for ``day``, then what is downstream of them and of the
    upstream assets in ``changed`` (asset key strings)."""
    import dagster as dg

    from mesh_platform.build.definitions import build_domain_definitions
    from mesh_platform.build.instance import get_instance

    defs = build_domain_definitions(domain.path)
    graph = defs.resolve_asset_graph()
    instance = get_instance()
    reap_dead_runs(instance)
    materializable = set(graph.materializable_asset_keys)
    partitioned = {k for k in materializable if graph.get(k).partitions_def}
    known = set(graph.get_all_asset_keys())
    seeds = {dg.AssetKey.from_user_string(k) for k in changed} & known | partitioned
    downstream = dg.AssetSelection.assets(*seeds).downstream().resolve(graph) if seeds else set()
    plain = (set(downstream) & materializable) - partitioned
    if partitioned or plain:  # observed in the first run, before what reads them is built
        (partitioned if partitioned else plain).update(graph.observable_asset_keys)
    run = DomainRun(domain=domain.name, spec=domain)
    for keys, partition_key in ((partitioned, day), (plain, None)):
        if not keys:
            continue
        result = _execute(defs, domain, instance, keys, {}, partition_key)
        run.run_ids.append(result.run_id)
        _collect(run, result)
    return run

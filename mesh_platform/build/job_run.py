"""Executing a domain's job in this process as a run of the domain's code location.

``JobDefinition.execute_in_process`` records a run without a code-location origin: Dagster's
UI then cannot place it (the Overview timeline showed "No runs" after ``make demo``'s five
successful runs; they appeared only as materializations). This does what
``execute_in_process`` does, with the run's origin set to the domain's code location of
workspace.yaml (location = the domain, module ``domains.<domain>.definitions``), so the run
shows under its job in the timeline and the Runs list, like a run launched from the UI.

A private seam (Dagster's run creation with an origin), pinned by
:func:`~mesh_platform.core.version_guard.require_tested`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mesh_platform.core.version_guard import require_tested

if TYPE_CHECKING:
    import dagster as dg

REPOSITORY_NAME = "__repository__"  # the one repository of a Definitions code location


def domain_job_origin(domain: str, job_name: str, working_directory: str):
    """The origin ``dagster dev`` gives a job of the domain's code location."""
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(
            module_name=f"domains.{domain}.definitions", working_directory=working_directory
        ),
        location_name=domain,
    )
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY_NAME), job_name)


def execute_as_location_run(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    domain: str,
    working_directory: str,
    asset_selection: Sequence[dg.AssetKey],
    tags: Mapping[str, str],
    run_config: Mapping[str, Any],
    partition_key: str | None = None,
) -> dg.ExecuteInProcessResult:
    """``job.execute_in_process(...)`` (never raising on a failed step) as a run of the
    domain's code location."""
    require_tested("dagster", "runs of a domain's job (mesh_platform/build/job_run.py)")
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import (
        ExecuteRunWithPlanIterable,
        create_execution_plan,
        job_execution_iterator,
    )
    from dagster._core.execution.context_creation_job import (
        PlanOrchestrationContextManager,
        orchestration_context_event_generator,
    )
    from dagster._core.execution.execute_in_process import merge_run_tags
    from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult

    selection = list(asset_selection)
    subset = job.as_ephemeral_job(
        resource_defs={}, input_values={}, op_selection=None, asset_selection=selection
    )
    run_tags = merge_run_tags(
        job_def=job,
        partition_key=partition_key,
        tags=tags,
        asset_selection=selection,
        instance=instance,
        run_config=run_config,
    )
    wrapped = InMemoryJob(job_def=subset)
    plan = create_execution_plan(wrapped, run_config=run_config, instance_ref=instance.get_ref())
    run = instance.create_run_for_job(
        job_def=subset,
        run_config=run_config,
        tags={**subset.run_tags, **run_tags},
        asset_selection=frozenset(selection),
        execution_plan=plan,
        remote_job_origin=domain_job_origin(domain, job.name, working_directory),
    )
    output_capture: dict = {}
    events = list(
        ExecuteRunWithPlanIterable(
            execution_plan=plan,
            iterator=job_execution_iterator,
            execution_context_manager=PlanOrchestrationContextManager(
                context_event_generator=orchestration_context_event_generator,
                job=wrapped,
                execution_plan=plan,
                dagster_run=run,
                instance=instance,
                run_config=run_config,
                executor_defs=None,
                output_capture=output_capture,
                raise_on_error=False,
            ),
        )
    )
    return ExecuteInProcessResult(
        job_def=subset,
        event_list=events,
        dagster_run=instance.get_run_by_id(run.run_id),
        output_capture=output_capture,
    )

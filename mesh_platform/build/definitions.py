"""Build one domain's Dagster ``Definitions`` from its descriptors: the platform's entry point.

A domain's ``definitions.py`` only calls :func:`build_domain_definitions`. Everything a
product needs — dbt assets, blocking contract checks, publishing, metadata, automation,
freshness, the domain's concurrency pool — is applied here, the same way for every domain.
"""

from __future__ import annotations

import atexit
import gc
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY,
    DAGSTER_DBT_SELECT_METADATA_KEY,
)

from mesh_platform.build.dbt_resource import MeshDbtCliResource
from mesh_platform.build.dbt_specs import build_step_specs
from mesh_platform.build.engines import engine_for
from mesh_platform.build.governance_check import GovernanceGate
from mesh_platform.build.source_observation import observe_source
from mesh_platform.build.translator import MeshDbtTranslator
from mesh_platform.core.bindings import DomainBindings, bind_domain
from mesh_platform.core.data_window import declared_window, partitions_start
from mesh_platform.core.descriptor import DataProduct, DescriptorError
from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import apply_tool_env, get_environment
from mesh_platform.core.manifest import (
    domain_models,
    in_domain_ancestors,
    load_manifest,
    profiles_dir,
    source_port_address,
)
from mesh_platform.core.version_guard import require_tested

# A step that failed on something transient (a file lock held by another process, an I/O
# error) is retried twice with backoff; bad data and failed models raise Failure with
# allow_retries=False and are never retried.
TRANSIENT_RETRIES = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)


# dagster-dbt's public `@dbt_assets` takes no extra check specs; the contract and governance
# checks must live on the same multi-asset as the dbt models (blocking, one step), so the specs
# come from `build_step_specs` (dagster-dbt's `build_dbt_specs` loop, see build/dbt_specs.py).
require_tested("dagster-dbt", "the domain's dbt steps (mesh_platform/build/definitions.py)")


def domain_pool(domain: str) -> str:
    """One writer per DuckDB file: every step that writes a domain's file holds this pool."""
    return f"duckdb_{domain}"


_FROZE_AT_LOAD = False


@contextmanager
def _long_lived_objects() -> Iterator[None]:
    """Build without Python's cyclic garbage collector walking the heap, and keep it off what
    the build made: a code location's definitions live as long as its process.

    Building a large domain allocates hundreds of thousands of objects (specs, outputs, check
    specs), which triggers full collections that each walk every object of the imported
    libraries; Dagster's repository snapshot, taken right after the load, triggers more (a
    third of a 500-product domain's build and snapshot time: bench/results/defs-load-500.md).
    The first build in a process freezes (``gc.freeze``) what was imported before it and what
    it built, so later collections skip both. Frozen objects go back to the collector at exit:
    DuckDB's bindings report the objects never freed otherwise. A later build in the same
    process (tests, tools loading several domains) only pauses the collector while it runs.
    """
    global _FROZE_AT_LOAD
    first = not _FROZE_AT_LOAD
    if first:
        _FROZE_AT_LOAD = True
        gc.freeze()
        atexit.register(gc.unfreeze)
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        if first:
            gc.freeze()


def build_domain_definitions(domain_dir: Path) -> dg.Definitions:
    with _long_lived_objects():
        return _build_domain_definitions(Path(domain_dir))


def _build_domain_definitions(domain_dir: Path) -> dg.Definitions:
    env = apply_tool_env()
    domain = load_domain(Path(domain_dir))
    project_dir = env.domain_dbt_dir(domain.name)
    manifest = load_manifest(project_dir)  # the domain's own dbt project, and no other
    bindings = bind_domain(domain, manifest)
    # Policy violations do not stop the location loading: the UI shows the product, and its
    # governance check fails and blocks publishing.
    gate = GovernanceGate.for_domain(env, bindings)
    translator = MeshDbtTranslator(bindings, gate)
    assets = _dbt_multi_assets(bindings, translator, gate)
    sources = _operational_sources(bindings, translator)
    job = _domain_job(domain.name, sources)
    return dg.Definitions(
        assets=[*assets, *sources, *_upstream_port_specs(bindings)],
        jobs=[job],
        schedules=_schedules(bindings, translator, job),
        sensors=[_automation_sensor(domain.name)],
        resources={
            "dbt": MeshDbtCliResource(
                project_dir=str(project_dir),
                profiles_dir=str(profiles_dir(project_dir)),
                # the dbt installed beside this interpreter, whether or not the venv is active
                dbt_executable=str(Path(sys.executable).parent / "dbt"),
                in_process=env.dbt_in_process,
                # the domain's engine is its dbt target (build/engines/); None: the default
                target=engine_for(domain.engine).dbt_target,
            )
        },
    )


def _partitions_defs(bindings: DomainBindings) -> dict[str, dg.PartitionsDefinition]:
    """The daily partitions definition of each partitioned model (one object per start day).

    Partitions start at the product's ``partitioning.start`` or at the first day of the
    operational data, whichever is later: days before the data begins could only be 'Missing'.
    """
    declared = declared_window(apply_tool_env().operational_dir)
    by_start: dict = {}
    return {
        uid: by_start.setdefault(start, dg.DailyPartitionsDefinition(start_date=start.isoformat()))
        for uid, start in (
            (uid, partitions_start(start, declared)) for uid, start in bindings.partitioned.items()
        )
    }


def _dbt_multi_assets(
    bindings: DomainBindings, translator: MeshDbtTranslator, gate: GovernanceGate
) -> list[dg.AssetsDefinition]:
    """One dbt step per partitioning; models built from a port that rejects bad rows get a
    step of their own after it, so they read the port's rows *after* the rejects split."""
    manifest = bindings.manifest
    domain = bindings.domain.name
    models = domain_models(manifest, domain)
    partitioned = _partitions_defs(bindings)
    after = _after_rejecting_ports(bindings)
    groups: dict[tuple[dg.PartitionsDefinition | None, bool], list[str]] = {}
    for uid in sorted(models):
        groups.setdefault((partitioned.get(uid), uid in after), []).append(uid)
    assets = []
    for (pdef, after_rejects), uids in groups.items():
        name = f"{domain}_dbt" + ("_daily" if pdef else "")
        if after_rejects and (pdef, False) in groups:
            name += "_after_rejects"
        if pdef is None and not after_rejects:
            # One dbt selection criterion for the whole domain project, not one per model:
            # dbt's selector matches every criterion against every node of the project, which
            # took 25 s for a 500-product domain with model names.
            select = "fqn:*"
            mine = set(uids)
            exclude = " ".join(sorted(models[u]["name"] for u in models if u not in mine))
        else:
            select = " ".join(sorted(models[uid]["name"] for uid in uids))
            exclude = ""
        assets.append(_dbt_multi_asset(bindings, translator, gate, name, select, exclude, pdef))
    return assets


def _after_rejecting_ports(bindings: DomainBindings) -> set[str]:
    """Models downstream (in the domain) of an output port whose bad rows are rejected."""
    rejecting = {uid for uid, b in bindings.ports.items() if b.port.rejects_bad_rows}
    if not rejecting:
        return set()
    return {
        uid
        for uid in domain_models(bindings.manifest, bindings.domain.name)
        if rejecting & in_domain_ancestors(bindings.manifest, uid) - {uid}
    }


def _dbt_multi_asset(bindings, translator, gate, name, select, exclude, partitions_def):
    manifest = bindings.manifest
    specs, dbt_check_specs = build_step_specs(translator, manifest, select, exclude)
    spec_keys = {spec.key for spec in specs}
    port_keys: dict[dg.AssetKey, str] = {}
    contract_checks = []
    for uid, binding in bindings.ports.items():
        key = translator.get_asset_spec(manifest, uid, None).key
        if key not in spec_keys:
            continue
        port_keys[key] = uid
        contract_checks += [
            dg.AssetCheckSpec(
                check.name,
                asset=key,
                blocking=True,
                description=f"Soda contract {binding.contract.path.name}: {check.label}",
            )
            for check in binding.contract.checks
        ]
        contract_checks.append(gate.check_spec(binding, key))

    @dg.multi_asset(
        name=name,
        specs=specs,
        check_specs=[*dbt_check_specs, *contract_checks],
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        op_tags={
            DAGSTER_DBT_SELECT_METADATA_KEY: select,
            **({DAGSTER_DBT_EXCLUDE_METADATA_KEY: exclude} if exclude else {}),
        },
        pool=domain_pool(bindings.domain.name),
        retry_policy=TRANSIENT_RETRIES,
        allow_arbitrary_check_specs=True,
    )
    def _domain_dbt(context, dbt: MeshDbtCliResource):
        # imported when a step runs: the step's engines (DuckDB, the port store) are not
        # needed to load the code location
        from mesh_platform.build.step import run_domain_step

        yield from run_domain_step(context, dbt, bindings, port_keys, gate)

    return _domain_dbt


def _operational_sources(bindings: DomainBindings, translator: MeshDbtTranslator):
    """The domain's operational systems as observable source assets, so lineage starts at the
    source and Dagster shows when each was last observed (its files' or table's last-modified
    time and row count, build/source_observation.py) instead of "never materialized"."""
    domain = bindings.domain.name
    sources = {}
    for uid, source in sorted(bindings.manifest["sources"].items()):
        if source_port_address(source):
            continue
        spec = translator.get_asset_spec(bindings.manifest, uid, None)
        sources[spec.key] = source
    if not sources:
        return []
    specs = [
        dg.AssetSpec(
            key,
            description=source.get("description") or source.get("source_description"),
            group_name=domain,
            owners=[f"team:{bindings.domain.spec.owner.team}"],
            kinds={"source"},
            tags={"domain": domain, "layer": "operational"},
            metadata={"mesh/source": f"{source['source_name']}.{source['name']}"},
        )
        for key, source in sources.items()
    ]

    def _observe(context):
        env = get_environment()
        project_dir = env.domain_dbt_dir(domain)
        for key in sorted(context.selected_asset_keys):
            seen = observe_source(env, project_dir, sources[key])
            if seen.problem:
                context.log.warning(f"domain {domain}: source {seen.source}: {seen.problem}")
            yield dg.ObserveResult(
                asset_key=key,
                data_version=dg.DataVersion(seen.data_version),
                metadata=seen.metadata(),
            )

    # Dagster marks the decorator beta; it is the public way to observe several sources in
    # one step (pinned by the tests of the observations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        observe = dg.multi_observable_source_asset(
            name=f"{domain}_operational_sources",
            specs=specs,
            can_subset=True,
            description=f"Observes the operational sources of domain {domain}.",
        )(_observe)
    return [observe]


def _upstream_port_specs(bindings: DomainBindings) -> list[dg.AssetSpec]:
    """The other domains' output ports this domain reads, declared in the domain's own group.

    Dagster would otherwise put them in a group "default" of this code location, which
    opens an empty graph (each port is defined, materializable, in its producer's location,
    and the UI shows it there)."""
    keys = sorted({tuple(up.asset_path) for up in bindings.upstream.values()})
    return [
        dg.AssetSpec(
            dg.AssetKey(list(path)),
            group_name=bindings.domain.name,
            description=f"Output port of domain {path[0]}, read by domain "
            f"{bindings.domain.name}; built and published in code location {path[0]}.",
        )
        for path in keys
    ]


def domain_job_name(domain: str) -> str:
    """The job ``mesh materialize`` and ``make demo`` run a domain as (one per domain)."""
    return f"{domain}__materialize"


def _domain_job(
    domain: str, observed: list[dg.AssetsDefinition]
) -> dg.UnresolvedAssetJobDefinition:
    """Every asset the domain builds or observes, as one named job: its runs show under the
    domain's code location in Dagster's Overview timeline and in the Runs list."""
    return dg.define_asset_job(
        domain_job_name(domain),
        selection=dg.AssetSelection.all()
        | dg.AssetSelection.assets(*[key for a in observed for key in a.keys]),
        description=f"Builds and observes everything of domain {domain} (`mesh materialize`).",
    )


def _automation_sensor(domain: str) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the domain's eager products, on by default so they follow their inputs."""
    return dg.AutomationConditionSensorDefinition(
        f"{domain}_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
    )


def _schedules(bindings: DomainBindings, translator: MeshDbtTranslator, job):
    """One schedule per scheduled product, all targeting the domain's job.

    Each schedule's run request selects only its product's assets (with their in-domain
    upstream), and a daily product's request names the day, as ``mesh materialize`` runs the
    same job. Sharing the domain's job matters for large domains: the code server resolves
    and snapshots every job against the whole asset graph (a job per product made a
    500-product domain take minutes to load, and even one more job for the scheduled products
    is resolved against every asset); schedules are cheap.
    """
    manifest = bindings.manifest
    partitioned = _partitions_defs(bindings)
    # one schedule per product, over every port it publishes (a v1 and a v2 side by side)
    scheduled: dict[str, tuple[DataProduct, set[dg.AssetKey], dg.PartitionsDefinition | None]] = {}
    for uid, binding in sorted(bindings.ports.items()):
        product = binding.product
        if product.automation.kind == "schedule":
            _, keys, _ = scheduled.setdefault(product.name, (product, set(), partitioned.get(uid)))
            keys.update(
                translator.get_asset_spec(manifest, m, None).key
                for m in {uid, *in_domain_ancestors(manifest, uid)}
            )
    return [
        _product_schedule(product, job, sorted(keys), pdef)
        for product, keys, pdef in scheduled.values()
    ]


def _product_schedule(product, job, keys: list[dg.AssetKey], partitions_def):
    """Runs the product's assets at its cron; a daily product runs the day that just ended.

    Running by default, in the demo and in production alike: a mesh left alone keeps its
    products fresh. A day the operational data says it does not hold yet is skipped, not run.
    """
    cron = product.automation.cron
    if partitions_def is not None:
        _require_daily_cron(product)

    def _refresh(context: dg.ScheduleEvaluationContext):
        if partitions_def is None:
            return dg.RunRequest(asset_selection=keys)
        window = partitions_def.get_prev_partition_window(context.scheduled_execution_time)
        if window is None:
            return dg.SkipReason(f"no complete day yet for {product.domain}.{product.name}")
        day = window.start.strftime(partitions_def.fmt)
        declared = declared_window(apply_tool_env().operational_dir)
        if declared and window.start.date() > declared[1]:
            return dg.SkipReason(
                f"{product.domain}.{product.name}: no source data for {day} yet (the "
                f"operational data ends {declared[1]}): land it, then `mesh materialize --day {day}`"
            )
        return dg.RunRequest(run_key=day, partition_key=day, asset_selection=keys)

    # ScheduleDefinition, not the @schedule decorator: same schedule, without the decorator
    # inspecting the function's annotations for resources (a third of a schedule's cost)
    return dg.ScheduleDefinition(
        name=f"{product.domain}__{product.name}",
        job=job,
        cron_schedule=cron,
        execution_fn=_refresh,
        description=f"Refreshes {product.domain}.{product.name} at '{cron}' (UTC).",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


def _require_daily_cron(product) -> None:
    """A daily-partitioned product's cron must be 'M H * * *': it runs once per partition."""
    fields = product.automation.cron.split()
    if fields[2:] != ["*", "*", "*"] or not (fields[0].isdigit() and fields[1].isdigit()):
        raise DescriptorError(
            f"domain {product.domain}, product {product.name}: field `automation.cron` is "
            f"{product.automation.cron!r}; a daily-partitioned product runs once a day, so use "
            "'M H * * *' (e.g. '30 1 * * *')"
        )

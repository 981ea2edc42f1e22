"""What one step of a domain run does: dbt build, then write-audit-publish for each port.

dbt writes the domain's own DuckDB file. Only after dbt has finished (and released the file)
does the step open it once, verify each output port's Soda contract on that connection and,
if every check passed, publish a new snapshot. A port whose contract fails is not published:
consumers keep the previous snapshot, the failed checks show in Dagster, and the step fails
with a message naming domain, product, port, column and check.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from mesh_platform.build import governance_check as governance
from mesh_platform.build.contract_reads import (
    describe_unbuilt_reads,
    missing_relations,
    unbuilt_reads,
)
from mesh_platform.build.dbt_resource import MeshDbtCliResource, domain_invocation_env
from mesh_platform.build.engines import engine_for
from mesh_platform.build.failing_rows import failing_rows_metadata
from mesh_platform.build.port_uniqueness import (
    CrossDayDuplicates,
    fold_into,
    published_elsewhere,
    with_port_diagnostics,
)
from mesh_platform.build.rejects import missing_predicate, publish_split, split_port
from mesh_platform.build.source_drift import drift_failures, source_drift
from mesh_platform.build.unpublished_inputs import (
    missing_ports,
    unpublished_failures,
    unpublished_inputs,
)
from mesh_platform.build.verification import verify_contract
from mesh_platform.build.window_rebuild import set_aside_whole_tables, settle_after_dbt
from mesh_platform.core.bindings import DomainBindings, PortBinding
from mesh_platform.core.contracts import ContractVerification
from mesh_platform.core.declared_schema import (
    declared_port_schema,
)
from mesh_platform.core.environment import get_environment
from mesh_platform.core.failpoints import failpoint
from mesh_platform.core.manifest import domain_models, in_domain_ancestors
from mesh_platform.core.sql import quote_ident, quote_literal
from mesh_platform.governance.report import Finding, errors
from mesh_platform.ports.changes import (
    FULL_REFRESH_TAG,
    UpstreamChanges,
    decide,
    load_records,
    record_path,
    resolve_upstream,
    save_records,
    upstream_ports,
    upstream_state,
)
from mesh_platform.ports.pinned import pinned_inputs
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.records import (
    write_governance_record,
    write_published_schema,
)
from mesh_platform.ports.store import DayPartitions, current_snapshot
from mesh_platform.ports.views_file import refresh_views_file


def _partition_env(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The partition window as environment variables, not dbt ``--vars``.

    dbt re-parses the whole project whenever ``--vars`` change; a changed environment
    variable only re-parses the files that read it.
    """
    if not context.has_partition_key_range and not context.has_partition_key:
        return {}
    window = context.partition_time_window
    return {
        "MESH_PARTITION_START": window.start.date().isoformat(),
        "MESH_PARTITION_END": window.end.date().isoformat(),
    }


def _check_result(
    binding: PortBinding,
    key: dg.AssetKey,
    verification: ContractVerification,
    samples: Mapping[str, dict[str, Any]] | None = None,
):
    """One Dagster check result per contract check; a failed one with ``samples`` (by check
    name) of its failing rows (build/failing_rows.py)."""
    for outcome in verification.outcomes:
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=outcome.check.name,
            # Soda's WARN is Dagster's WARN: shown as a warning, and it does not block publishing
            passed=outcome.passed and not outcome.warned,
            severity=dg.AssetCheckSeverity.WARN if outcome.warned else dg.AssetCheckSeverity.ERROR,
            metadata={
                "address": binding.address,
                "check": outcome.check.label,
                "soda_outcome": outcome.outcome,
                **{f"soda/{k}": v for k, v in outcome.diagnostics.items()},
                **with_port_diagnostics(outcome),
                **(samples or {}).get(outcome.check.name, {}),
            },
            description=outcome.detail or None,
        )


def describe_failure(
    binding: PortBinding, verification: ContractVerification, blocking: list[Finding] = ()
) -> str:
    product = binding.product
    failed = []
    if not verification.passed:
        failed.append(f"its contract ({binding.contract.path.name})")
    policies = len({f.policy for f in blocking})
    if blocking:
        failed.append(f"{policies} governance polic{'y' if policies == 1 else 'ies'}")
    lines = [
        f"domain {product.domain}, product {product.name}: output port {binding.address} "
        f"v{binding.port.version} failed {' and '.join(failed)} and was NOT "
        "published; consumers keep reading the previous snapshot."
    ]
    lines += [f"  - governance {f.line()}" for f in blocking]
    for outcome in verification.failed:
        detail = ", ".join(f"{k}={v}" for k, v in outcome.diagnostics.items())
        lines.append(
            f"  - check {outcome.check.name}: {outcome.check.label} {outcome.outcome}"
            + (f" ({detail})" if detail else "")
            + (f": {outcome.detail}" if outcome.detail else "")
        )
    if verification.errors:
        lines.append(f"  - Soda reported: {verification.errors.strip()}")
    if not verification.passed:
        lines.append(
            f"  Fix the data or the model {binding.port.model} (dbt_project/"
            f"{product.domain}/models/), or change the contract with a new major version if the change "
            "is intended; then rerun."
        )
    return "\n".join(lines)


def run_domain_step(
    context: dg.AssetExecutionContext,
    dbt: MeshDbtCliResource,
    bindings: DomainBindings,
    port_keys: Mapping[dg.AssetKey, str],
    gate: governance.GovernanceGate,
) -> Iterator[Any]:
    """Yield dbt's events, holding back each port's materialization until it is published.

    The domain's engine (``build/engines/``) decides dbt's target and how the audit reaches
    the tables dbt built; everything else is the same for every engine."""
    env = get_environment()
    domain = bindings.domain.name
    engine = engine_for(bindings.domain.engine)
    env.warehouse_dir.mkdir(parents=True, exist_ok=True)
    # A stable target path per step and engine keeps dbt's partial-parse cache, which is only
    # valid for one domain's profile and target (the database path differs per domain).
    target_path = env.dbt_artifacts_dir / (
        context.op_def.name + ("" if engine.name == "duckdb" else f"_{engine.name}")
    )
    record = record_path(target_path)
    selected = _selected_models(context, bindings)
    # the upstream snapshots this step reads, resolved once: change tracking and dbt see the
    # same ones, leased and linked for dbt until the step ends (ports/pinned.py)
    upstream = resolve_upstream(env.ports_dir, upstream_ports(bindings.manifest, domain))
    # before dbt runs, hold back the models built from a source whose columns changed or from
    # an upstream port never published; the domain's other models build and publish
    drift = source_drift(env, bindings, selected)
    unpublished = unpublished_inputs(bindings, selected, missing_ports(env.ports_dir, upstream))
    failures = drift_failures(bindings, drift) + unpublished_failures(bindings, unpublished)
    for failure in failures:
        context.log.error(failure)
    held_back = drift.models | unpublished.models
    held_back_keys = {f"{domain}/{bindings.manifest['nodes'][uid]['name']}" for uid in held_back}
    rebuilt = sorted(
        k.to_user_string()
        for k in context.selected_asset_keys
        if k.to_user_string() not in held_back_keys
    )
    changes = _upstream_changes(context, bindings, load_records(record, rebuilt), upstream)
    with pinned_inputs(env.ports_dir, env.data_dir, context.op_def.name, upstream) as inputs:
        plan = _StepPlan(engine, target_path, held_back, failures, rebuilt, changes, inputs)
        yield from _build(context, dbt, bindings, port_keys, gate, plan)


@dataclass
class _StepPlan:
    """What :func:`run_domain_step` decided before dbt runs."""

    engine: Any
    target_path: Path
    # models not built: their source drifted (build/source_drift.py) or an upstream port
    # they read was never published (build/unpublished_inputs.py)
    held_back: frozenset[str]
    failures: list[str]
    rebuilt: list[str]  # the asset keys this run rebuilds
    changes: UpstreamChanges
    inputs: Path  # the step's pinned upstream ports: dbt's MESH_PORTS_DIR


def _build(
    context: dg.AssetExecutionContext,
    dbt: MeshDbtCliResource,
    bindings: DomainBindings,
    port_keys: Mapping[dg.AssetKey, str],
    gate: governance.GovernanceGate,
    plan: _StepPlan,
) -> Iterator[Any]:
    """dbt, then the audit and publish of what it built (see :func:`run_domain_step`)."""
    env = get_environment()
    domain = bindings.domain.name
    failures = plan.failures
    record = record_path(plan.target_path)
    held: dict[str, dg.Output] = {}
    failpoint("build.before_dbt")
    if not plan.rebuilt:
        # every model the step selected is held back (plan.failures say why): no dbt to start
        context.log.info(f"domain {domain}: nothing to build, every selected model is held back")
        if failures:
            raise dg.Failure(description="\n".join(failures), allow_retries=False)
        return
    step_env = {
        **env.tool_env(),
        **_partition_env(context),
        **plan.changes.env(),
        **_engine_env(plan.engine, env, domain),
        "MESH_PORTS_DIR": str(plan.inputs),
    }
    exclude = sorted(bindings.manifest["nodes"][uid]["name"] for uid in plan.held_back)
    set_aside = _set_aside_whole_tables(context, bindings, plan)
    with domain_invocation_env(domain, step_env):
        _prepare_engine(plan.engine, context, env, domain, plan.target_path)
        invocation = dbt.cli(
            _dbt_build_args(context) + (["--exclude", " ".join(exclude)] if exclude else []),
            context=context,
            raise_on_error=False,
            target_path=plan.target_path,
        )
        try:
            for event in invocation.stream():
                key = getattr(event, "asset_key", None) or _output_key(context, event)
                uid = port_keys.get(key)
                if isinstance(event, dg.Output) and uid:
                    held[uid] = event
                else:
                    yield event
        finally:
            settle_after_dbt(env.domain_database(domain), set_aside)
    failpoint("build.after_dbt")
    locked = plan.engine.name == "duckdb" and not held and _locked_out(invocation)
    if not invocation.is_successful() and locked:
        # another process held the domain's DuckDB file: transient, the retry policy retries
        raise TransientBuildError(
            f"domain {domain}: dbt could not lock {env.domain_database(domain)} (another "
            "process holds it); retrying"
        )
    if invocation.is_successful():
        save_records(record, plan.rebuilt, plan.changes)  # what these models were built from
    else:
        failures.append(
            f"domain {domain}: dbt build failed — {_bounded(invocation.get_error())}. "
            "The models above that failed were not built and nothing downstream was published."
        )
    yield from _audit_and_publish(
        context, bindings, gate, held, failures, plan.held_back, plan.engine
    )
    if failures:
        # Bad data or a failed model is not transient: retrying would only fail again.
        raise dg.Failure(description="\n".join(failures), allow_retries=False)


ERROR_CHARS = 2000  # of dbt's error in the step's failure
# DuckDB's CSV reader quotes the line it could not read (up to 10,000 characters of data)
_QUOTED_LINE = re.compile(r"^(\s*Original Line:).*$", re.MULTILINE)


def _bounded(error: object) -> str:
    """dbt's error for the failure message: without the data line a reader's error quotes
    (the file and line number it also names locate it; the data may be personal), and cut
    after :data:`ERROR_CHARS` characters."""
    text = str(error or "") or "see the step logs"
    text = _QUOTED_LINE.sub(r"\1 (not shown here: it is source data; see the file and line)", text)
    if len(text) <= ERROR_CHARS:
        return text
    return f"{text[:ERROR_CHARS]} … [{len(text) - ERROR_CHARS} more characters, see the step logs]"


def _engine_env(engine: Any, env, domain: str) -> dict[str, str]:
    try:
        return engine.invocation_env(env, domain)
    except RuntimeError as exc:  # e.g. no Spark cluster named: not transient
        raise dg.Failure(description=f"domain {domain}: {exc}", allow_retries=False) from exc


def _prepare_engine(engine: Any, context, env, domain: str, target_path) -> None:
    """What the engine needs before dbt runs (a Spark session, the sources registered)."""
    try:
        engine.before_dbt(context.log, env, domain, target_path)
    except Exception as exc:  # a Spark or source error of any kind: say what and where
        raise dg.Failure(
            description=f"domain {domain}: the {engine.name} engine could not start the build: "
            f"{exc}. Nothing was built or published; consumers keep the previous snapshots.",
            allow_retries=False,
        ) from exc


def _set_aside_whole_tables(
    context: dg.AssetExecutionContext, bindings: DomainBindings, plan: _StepPlan
) -> list:
    """A run whose days cover all of a daily port's table builds it new (window_rebuild.py)."""
    partitioned = context.has_partition_key or context.has_partition_key_range
    if plan.engine.name != "duckdb" or not partitioned:
        return []
    window = context.partition_time_window
    models = _selected_models(context, bindings) - plan.held_back
    database = get_environment().domain_database(bindings.domain.name)
    tables = set_aside_whole_tables(
        database, bindings, models, (window.start.date(), window.end.date())
    )
    for table in tables:
        context.log.info(
            f"{table.schema}.{table.table}: every day it holds is in this run's window, so it "
            "is built new rather than each day deleted and inserted again"
        )
    return tables


def _selected_models(context: dg.AssetExecutionContext, bindings: DomainBindings) -> set[str]:
    """The unique ids of the domain's models this step builds (keyed [<domain>, <model>])."""
    selected = {tuple(key.path) for key in context.selected_asset_keys}
    domain = bindings.domain.name
    return {
        uid
        for uid, node in domain_models(bindings.manifest, domain).items()
        if (domain, node["name"]) in selected
    }


def _dbt_build_args(context: dg.AssetExecutionContext) -> list[str]:
    """``dbt build``, with dbt's own ``--full-refresh`` when a full rebuild was asked for.

    Withholding ``MESH_CHANGED_FROM`` already recomputes every period, but an incremental
    model whose columns changed (``on_schema_change='fail'``) fails until its table is
    recreated, which only dbt's flag does. Never on a partitioned step: dbt would drop the
    table and rebuild it from the run's days only, losing every other day.
    """
    partitioned = context.has_partition_key or context.has_partition_key_range
    if context.run.tags.get(FULL_REFRESH_TAG) == "true" and not partitioned:
        return ["build", "--full-refresh"]
    return ["build"]


def _upstream_changes(
    context: dg.AssetExecutionContext, bindings: DomainBindings, records: list, upstream
) -> UpstreamChanges:
    """From which day the step's incremental models may rebuild (see ports/changes.py)."""
    current = upstream_state(upstream)
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
    changes = decide(records, current, full_refresh=full_refresh)
    context.log.info(
        f"domain {bindings.domain.name}: "
        + (
            f"incremental models rebuild from {changes.changed_from} ({changes.reason})"
            if changes.changed_from
            else f"incremental models rebuild fully ({changes.reason})"
        )
    )
    return changes


class TransientBuildError(RuntimeError):
    """A failure worth retrying (the step's bounded retry policy applies)."""


LOCK_ERROR = "Could not set lock on file"


def _locked_out(invocation: Any) -> bool:
    """Did dbt fail because another process held the domain's DuckDB file?"""
    texts = [str(invocation.get_error() or "")]
    with contextlib.suppress(Exception):
        texts += [
            str(r.get("message")) for r in invocation.get_artifact("run_results.json")["results"]
        ]
    return any(LOCK_ERROR in t for t in texts)


def _output_key(context: dg.AssetExecutionContext, event: Any) -> dg.AssetKey | None:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name)
    return None


def _audit_and_publish(
    context: dg.AssetExecutionContext,
    bindings: DomainBindings,
    gate: governance.GovernanceGate,
    held: dict[str, dg.Output],
    failures: list[str],
    held_back: frozenset[str] = frozenset(),
    engine: Any = None,
) -> Iterator[Any]:
    if failures:  # dbt failed: name the products its failure holds back
        failures.extend(_unbuilt_ports(context, bindings, held, held_back))
    if not held:
        return
    env = get_environment()
    domain = bindings.domain.name
    blocked: set[str] = set()
    published_any = False
    engine = engine or engine_for("duckdb")
    with engine.audit_connection(env, bindings, list(held)) as con:
        unbuilt = missing_relations(con, bindings.manifest, held_back) if held_back else {}
        for uid in _in_build_order(bindings, held):
            binding = bindings.ports[uid]
            key = context.asset_key_for_output(held[uid].output_name)
            if uid in blocked:
                failures.append(
                    f"domain {domain}, product {binding.product.name}: port {binding.address} "
                    "was not published because a port it is built from failed its contract or "
                    "governance checks."
                )
                continue
            reads = unbuilt_reads(binding.contract, unbuilt)
            if reads:  # Soda would fail every check on the missing table: say why instead
                product = binding.product
                failure = describe_unbuilt_reads(
                    domain, product.name, binding.address, binding.port.version, reads
                )
                context.log.error(failure)
                failures.append(failure)
                blocked |= _downstream_ports(bindings, uid)
                continue
            days = _days_built(context, binding)
            row_filter = _days_filter(days, binding)
            verification, across = _verify(con, binding, days, row_filter)
            # partial publishing (descriptor opt-in): bad rows move to the rejects table, and
            # the rows left are verified again — what is published passed its contract as is
            split = split_port(
                context.log, con, binding, verification, row_filter, across, _raw(bindings, binding)
            )
            if split is not None and split.rows_rejected and not split.over_threshold:
                verification, across = _verify(con, binding, days, row_filter)
            samples = _failing_samples(con, binding, gate, verification, row_filter)
            findings = gate.evaluate_at_run(binding, con, env.ports_dir, row_filter)
            blocking = errors(findings)
            published = None
            too_many_bad_rows = split is not None and split.over_threshold
            if verification.passed and not blocking and not too_many_bad_rows:
                # the schema record is computed before the pointer moves, so a failure here
                # publishes nothing
                schema = declared_port_schema(gate.repo_root, binding.product, binding.port)
                try:
                    published = publish_snapshot(
                        con,
                        binding.relation,
                        env.ports_dir,
                        domain,
                        binding.port.name,
                        binding.port.version,
                        run_id=context.run.run_id,
                        partitions=days,
                    )
                except (ValueError, RuntimeError, OSError) as exc:
                    failure = (
                        f"domain {domain}, product {binding.product.name}: port "
                        f"{binding.address} v{binding.port.version} passed its checks but "
                        f"could not be published: {exc}. Nothing of it became visible; "
                        "consumers keep the previous snapshot."
                    )
                    context.log.error(failure)
                    failures.append(failure)
                    blocked |= _downstream_ports(bindings, uid)
                    _record_governance(env.ports_dir, binding, findings, context.run.run_id, None)
                    yield from _check_result(binding, key, verification, samples)
                    yield governance.check_result(key, findings)
                    continue
                write_published_schema(env.ports_dir, schema)
                split_metadata = (
                    publish_split(con, split, env.ports_dir, binding, published) if split else {}
                )
                published_any = True
                context.log.info(
                    f"published {binding.address} v{binding.port.version}: {published.rows} rows"
                )
                yield held[uid].with_metadata(
                    {
                        **held[uid].metadata,
                        "dagster/row_count": published.rows,
                        PUBLISH_METADATA: dg.MetadataValue.json(
                            publish_metadata(binding, published, len(verification.outcomes))
                        ),
                        **split_metadata,
                    }
                )
            else:
                failure = describe_failure(binding, verification, blocking)
                if too_many_bad_rows:
                    product = binding.product
                    failure += "\n" + split.describe(
                        product.domain, product.name, binding.address, binding.port.version
                    )
                context.log.error(failure)
                failures.append(failure)
                blocked |= _downstream_ports(bindings, uid)
            _record_governance(env.ports_dir, binding, findings, context.run.run_id, published)
            # after the materialization they evaluate (or alone, when nothing was published)
            yield from _with_rejections(_check_result(binding, key, verification, samples), split)
            yield governance.check_result(key, findings)
    if published_any:
        _refresh_views_file(context, env.ports_dir)


def _raw(bindings: DomainBindings, binding: PortBinding) -> str | None:
    """The relation of the model a port's rejected rows take their raw text from, if any."""
    raw = binding.port.bad_rows.raw_text if binding.port.bad_rows else None
    if raw is None:
        return None
    for node in domain_models(bindings.manifest, bindings.domain.name).values():
        if node["name"] == raw.model:
            return f"{quote_ident(node['schema'])}.{quote_ident(node.get('alias') or raw.model)}"
    return None


def _failing_samples(
    con: duckdb.DuckDBPyConnection,
    binding: PortBinding,
    gate: governance.GovernanceGate,
    verification: ContractVerification,
    row_filter: str | None,
) -> dict[str, dict[str, Any]]:
    """For each failed contract check, a few of its failing rows (personal data masked)."""
    if verification.passed:
        return {}
    columns = gate.ctx.manifest["nodes"][binding.unique_id].get("columns") or {}
    return {
        outcome.check.name: failing_rows_metadata(
            con,
            binding.relation,
            outcome,
            binding.contract,
            columns,
            gate.ctx.config.personal_data,
            row_filter,
        )
        for outcome in verification.failed
    }


def _verify(
    con: duckdb.DuckDBPyConnection,
    binding: PortBinding,
    days: DayPartitions | None,
    row_filter: str | None,
) -> tuple[ContractVerification, list[CrossDayDuplicates]]:
    """The port's contract on the rows built, by Soda; then, for a run of some days of a port
    published per day, its ``duplicate`` checks against the days the port already publishes
    (uniqueness holds for the port, not for the day: see build/port_uniqueness.py)."""
    env = get_environment()
    verification = verify_contract(
        con, binding.contract, data_source=binding.product.domain, row_filter=row_filter
    )
    current = None
    if days is not None and days.days:
        port = binding.port
        current = current_snapshot(env.ports_dir, binding.product.domain, port.name, port.version)
    across = published_elsewhere(
        con, binding.relation, binding.contract.checks, days, row_filter, current
    )
    return fold_into(verification, across), across


def _days_built(context: dg.AssetExecutionContext, binding: PortBinding) -> DayPartitions | None:
    """The days this run built of a port published per day (its product names a
    ``partitioning.column``); None for a port published whole."""
    part = binding.product.partitioning
    if part is None or part.column is None:
        return None
    if not context.has_partition_key and not context.has_partition_key_range:
        return DayPartitions(part.column)
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return DayPartitions(
        part.column, tuple(first + timedelta(d) for d in range((end - first).days))
    )


def _days_filter(days: DayPartitions | None, binding: PortBinding | None = None) -> str | None:
    """SQL selecting the rows of the days built: contract checks, the rejects split and the
    data-level governance checks look at those rows only (the other days were verified when
    they were built).

    Rows whose day is missing (null, or one of the ``missing_values`` the contract declares for
    the partition column, e.g. the day of an event that landed in a folder that is not a date)
    belong to no day: every run's verification sees them too, so they are rejected with their
    reason (or block the publish) instead of silently staying out of every day."""
    if days is None or not days.days:
        return None
    first, last = min(days.days), max(days.days)
    column = quote_ident(days.column)
    in_days = (
        f"{column} >= {quote_literal(first.isoformat())}::date "
        f"and {column} <= {quote_literal(last.isoformat())}::date"
    )
    missing = _missing_day(binding, days.column) if binding is not None else None
    return f"({in_days}) or ({missing})" if missing else in_days


def _missing_day(binding: PortBinding, column: str) -> str | None:
    """SQL true for a row whose partition ``column`` the port's contract counts as missing."""
    for check in binding.contract.checks:
        if check.check_type == "missing" and check.column == column:
            return missing_predicate(quote_ident(column), check.config)
    return None


PUBLISH_METADATA = "mesh/publish"


def publish_metadata(binding: PortBinding, published, checks_passed: int) -> dict[str, Any]:
    """What one publish did, as one metadata entry of the materialization (Dagster shows the
    definition's entries beside it: one entry per fact made ~20 flat keys on a port's page)."""
    facts: dict[str, Any] = {
        "address": binding.address,
        "version": binding.port.version,
        "snapshot_id": published.snapshot_id,
        "rows": published.rows,
        "checksum": published.checksum,
        "contract_checks_passed": checks_passed,
        "table": published.table,
        "table_location": published.path,
    }
    if published.days_written is not None:
        facts |= {
            "days_written": len(published.days_written),
            "rows_written": published.rows_written,
            "days_published": len(published.partitions or {}),
        }
    return facts


def _with_rejections(results: Iterator[dg.AssetCheckResult], split) -> Iterator[Any]:
    """A contract check that rejected rows passed on the published rows: it says how many it
    rejected (as a warning), so the rejections show on the check in Dagster too."""
    for result in results:
        rows = split.by_check.get(result.check_name, 0) if split else 0
        if rows and not split.over_threshold:
            result = dg.AssetCheckResult(
                asset_key=result.asset_key,
                check_name=result.check_name,
                passed=result.passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={**result.metadata, "mesh/rows_rejected": rows},
                description=f"{rows} rows failed this check and were rejected into "
                f"{split.rejects_relation}; the published rows pass it.",
            )
        yield result


def _unbuilt_ports(
    context: dg.AssetExecutionContext,
    bindings: DomainBindings,
    held: dict[str, dg.Output],
    held_back: frozenset[str] = frozenset(),
) -> list[str]:
    """A line per port of this step that dbt did not build (its model or one upstream failed);
    ports held back before dbt (a source's schema drift, an upstream port never published)
    have their own message already."""
    # dbt models are keyed [<domain>, <model>] (see the translator)
    selected = {tuple(key.path) for key in context.selected_asset_keys}
    lines = []
    for uid, binding in sorted(bindings.ports.items()):
        if uid in held or uid in held_back:
            continue
        if (binding.product.domain, binding.port.model) not in selected:
            continue
        product = binding.product
        lines.append(
            f"domain {product.domain}, product {product.name}: output port {binding.address} "
            f"v{binding.port.version} was not built (dbt failed on its model "
            f"{binding.port.model} or a model it reads from, see above) and was NOT published; "
            "consumers keep reading the previous snapshot."
        )
    return lines


def _refresh_views_file(context: dg.AssetExecutionContext, ports_dir) -> None:
    """Derived and rebuilt at every publish: a failure here never fails a published port."""
    try:
        refresh_views_file(ports_dir)
    except (OSError, duckdb.Error) as exc:
        context.log.warning(f"could not refresh the ports' views file: {exc}")


def _record_governance(
    ports_dir, binding: PortBinding, findings: list[Finding], run_id: str, published
) -> None:
    """The port's latest governance result beside its snapshots, for the catalog; it says
    whether this run published, and which snapshot."""
    write_governance_record(
        ports_dir,
        binding.product.domain,
        binding.port.name,
        binding.port.version,
        {
            "address": binding.address,
            "version": binding.port.version,
            "run_id": run_id,
            "passed": not errors(findings),
            "published": published is not None,
            "snapshot_id": published.snapshot_id if published else None,
            "findings": [f.to_json() for f in findings],
        },
    )


def _in_build_order(bindings: DomainBindings, held: dict[str, dg.Output]) -> list[str]:
    """Upstream ports first, so a failed upstream blocks the ports built from it."""
    manifest = bindings.manifest
    depth = {uid: len(in_domain_ancestors(manifest, uid)) for uid in held}
    return sorted(held, key=lambda uid: (depth[uid], uid))


def _downstream_ports(bindings: DomainBindings, failed_uid: str) -> set[str]:
    return {
        uid for uid in bindings.ports if failed_uid in in_domain_ancestors(bindings.manifest, uid)
    }

"""What Dagster recorded about an asset: its materializations and its checks' executions.

The catalog aggregates these into a product's history; only this module asks Dagster for them,
so the catalog (a consumer surface) never imports Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Materialization:
    run_id: str
    timestamp: float
    rows: int | None


@dataclass(frozen=True)
class CheckExecution:
    run_id: str
    timestamp: float
    # Dagster's AssetCheckExecutionRecordStatus value (SUCCEEDED, FAILED, …), except that a
    # failure of WARN severity (Soda's WARN) is WARNED: it was reported, it did not block
    status: str


def materializations(instance: Any, asset_path: list[str], limit: int) -> list[Materialization]:
    """The asset's latest materializations, newest first."""
    import dagster as dg

    found = []
    for record in instance.fetch_materializations(dg.AssetKey(asset_path), limit=limit).records:
        entry = record.event_log_entry
        rows = entry.asset_materialization.metadata.get("dagster/row_count")
        found.append(
            Materialization(entry.run_id, entry.timestamp, int(rows.value) if rows else None)
        )
    return found


def check_executions(
    instance: Any, asset_path: list[str], check_name: str, limit: int
) -> list[CheckExecution]:
    """The latest executions of one of the asset's checks, newest first."""
    import dagster as dg

    key = dg.AssetCheckKey(dg.AssetKey(asset_path), check_name)
    return [
        CheckExecution(e.run_id, e.create_timestamp, _status(e))
        for e in instance.event_log_storage.get_asset_check_execution_history(key, limit=limit)
    ]


def _status(execution: Any) -> str:
    import dagster as dg

    status = execution.status.value
    dagster_event = execution.event.dagster_event if execution.event else None
    evaluation = dagster_event.event_specific_data if dagster_event else None
    if status == "FAILED" and getattr(evaluation, "severity", None) == dg.AssetCheckSeverity.WARN:
        return "WARNED"
    return status


def open_instance() -> Any:
    """The environment's Dagster instance, or None when nothing has run yet."""
    from mesh_platform.core.environment import get_environment

    env = get_environment()
    if not (env.dagster_home / "dagster.yaml").exists():
        return None
    from mesh_platform.build.instance import get_instance

    return get_instance()


def latest_check_statuses(
    instance: Any, checks: list[tuple[list[str], str]]
) -> dict[tuple[str, str], str]:
    """The newest execution status of each ``(asset path, check name)``, in one query:
    ``{("/".join(path), name): status}``; checks never executed are left out."""
    import dagster as dg

    keys = {dg.AssetCheckKey(dg.AssetKey(path), name): (path, name) for path, name in checks}
    found = {}
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(keys))
    for key, execution in latest.items():
        path, name = keys[key]
        found[("/".join(path), name)] = _status(execution)
    return found


# How definitions.py names and starts a product's automation (checked by a test against it)
SCHEDULE_NAME = "{domain}__{product}"  # one schedule per scheduled product; starts running
SENSOR_NAME = "{domain}_automation"  # one automation sensor per domain; starts running


def automation_states(instance: Any, products: list[tuple[str, str, str]]) -> dict[str, str]:
    """Whether each product's automation is on in Dagster: ``{"domain.product": "on" | "off"}``
    for ``(domain, product, kind)`` with kind ``schedule`` or ``eager``.

    A schedule or sensor someone started or stopped (the UI, ``dagster schedule start``) has a
    stored state; one nobody touched runs as its definition's default (both running: see
    ``build/definitions.py``; ``tests/unit/test_domain_definitions.py`` pins them)."""
    stored: dict[tuple[str, str], str] = {}  # by their enums' values: no private import
    for state in instance.all_instigator_state():
        location = state.origin.repository_origin.code_location_origin.location_name
        kind = "schedule" if state.instigator_type.value == "SCHEDULE" else "sensor"
        stored[(kind, f"{location}/{state.instigator_name}")] = state.status.value
        stored.setdefault((kind, f"*/{state.instigator_name}"), state.status.value)
    found = {}
    for domain, product, kind in products:
        if kind == "schedule":
            name, default = SCHEDULE_NAME.format(domain=domain, product=product), True
            look = "schedule"
        else:
            name, default = SENSOR_NAME.format(domain=domain), True
            look = "sensor"
        status = stored.get((look, f"{domain}/{name}"), stored.get((look, f"*/{name}")))
        # DECLARED_IN_CODE, or nothing stored: the definition's default
        running = {"RUNNING": True, "STOPPED": False}.get(status or "", default)
        found[f"{domain}.{product}"] = "on" if running else "off"
    return found


def change_mark(instance: Any) -> tuple[Any, ...]:
    """Changes whenever Dagster records something new about any asset: a run created or
    finished (its check results, blocked or not) or an asset event. Two cheap queries."""
    newest = instance.get_run_records(limit=1, order_by="update_timestamp", ascending=False)
    run = (newest[0].dagster_run.run_id, newest[0].update_timestamp) if newest else None
    return (run, instance.event_log_storage.get_maximum_record_id())

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

"""A port's quality and freshness history, read from the Dagster instance.

Dagster already records everything: a port's materialization is emitted only when it was
published (write-audit-publish), and every contract check and the governance check leave an
execution record, passed or failed, in every run. So a run of a port is the set of its checks'
executions with one run id, published if the run also materialized the port.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from mesh_platform.build import run_history
from mesh_platform.catalog.entries import PortEntry, ProductEntry


@dataclass
class RunRecord:
    run_id: str
    at: float  # unix time of the run's last event for this port
    published: bool = False
    rows: int | None = None
    checks_passed: int = 0
    checks_failed: int = 0
    failed_checks: list[str] = field(default_factory=list)

    @property
    def at_iso(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")


@dataclass
class PortHistory:
    label: str
    runs: list[RunRecord]  # newest first
    latest_checks: dict[str, str]  # check name -> passed | failed, of the newest execution
    last_published_at: float | None

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        for run, record in zip(raw["runs"], self.runs, strict=True):
            run["at"] = record.at_iso
        return raw


@dataclass(frozen=True)
class Freshness:
    status: str  # fresh | stale | never published | no SLO
    age_hours: float | None
    slo_hours: float | None


def port_history(instance: Any, port: PortEntry, limit: int = 30) -> PortHistory:
    """The port's publishes and check results, one :class:`RunRecord` per run, newest first."""
    path = [port.domain, port.model]
    runs: dict[str, RunRecord] = {}
    for done in run_history.materializations(instance, path, limit):
        run = runs.setdefault(done.run_id, RunRecord(done.run_id, done.timestamp))
        run.published = True
        run.rows = done.rows
        run.at = max(run.at, done.timestamp)
    latest: dict[str, str] = {}
    for name in port.check_names:
        for index, execution in enumerate(
            run_history.check_executions(instance, path, name, limit)
        ):
            if execution.status not in ("SUCCEEDED", "FAILED", "WARNED"):
                continue
            passed = execution.status != "FAILED"  # a warning did not fail the port
            if index == 0 or name not in latest:
                latest[name] = {"SUCCEEDED": "passed", "WARNED": "warned"}.get(
                    execution.status, "failed"
                )
            run = runs.setdefault(
                execution.run_id, RunRecord(execution.run_id, execution.timestamp)
            )
            run.at = max(run.at, execution.timestamp)
            if passed:
                run.checks_passed += 1
            else:
                run.checks_failed += 1
                run.failed_checks.append(name)
    ordered = sorted(runs.values(), key=lambda r: r.at, reverse=True)[:limit]
    published = [r.at for r in ordered if r.published]
    return PortHistory(port.label, ordered, latest, max(published) if published else None)


def freshness(
    product: ProductEntry, histories: list[PortHistory], now: float | None = None
) -> Freshness:
    """Age of the product's newest publish against its SLO (the oldest of its ports counts)."""
    times = [h.last_published_at for h in histories]
    if not times or any(t is None for t in times):
        return Freshness("never published", None, product.slo_freshness_hours)
    age = ((now or time.time()) - min(t for t in times if t is not None)) / 3600
    if product.slo_freshness_hours is None:
        return Freshness("no SLO", round(age, 2), None)
    status = "fresh" if age <= product.slo_freshness_hours else "stale"
    return Freshness(status, round(age, 2), product.slo_freshness_hours)

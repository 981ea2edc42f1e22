"""A port's quality and freshness history, read from the Dagster instance.

Dagster already records everything: a port's materialization is emitted only when it was
published (write-audit-publish), and every contract check and the governance check leave an
execution record, passed or failed, in every run. So a run of a port is the set of its checks'
executions with one run id, published if the run also materialized the port.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mesh_platform.build import run_history
from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import PortEntry, ProductEntry
from mesh_platform.ports.store import NULL_DAY


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
    """How recent a product's data is, against its SLO.

    ``basis`` says what the age is measured from: ``data`` — the newest day in the port's time
    column (the descriptor's ``partitioning.column``); ``inputs`` — the product has no time
    column, so its data can be no newer than its inputs' newest data; ``publish`` — neither is
    known, so only the publish time is (a publish can carry old data: the page says so).
    """

    status: str  # fresh | stale | never published | no SLO
    age_hours: float | None  # of the newest data (or of the publish, when basis is publish)
    slo_hours: float | None
    basis: str = "publish"  # data | inputs | publish
    data_from: str | None = None  # the data's first day (basis data)
    data_to: str | None = None  # the data's last day (basis data), or the inputs' (inputs)
    newest_data_at: str | None = None  # end of data_to (UTC), what the age is measured from
    published_at: str | None = None  # the served snapshot's publish time (the oldest port's)
    publish_age_hours: float | None = None


DataTime = tuple[str, float, str | None, str | None]  # basis, newest data time, first, last day


def data_range(port: PortEntry) -> tuple[str, str] | None:
    """First and last day of the port's served snapshot, from its time column's partition
    values (recorded with the snapshot: no data is read), or None without a time column."""
    published = port.published
    if published is None or not published.partition_column or not published.partitions:
        return None
    days = sorted(d for d in published.partitions if d != NULL_DAY)
    return (days[0], days[-1]) if days else None


def _end_of(day: str) -> float:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return (start + timedelta(days=1)).timestamp()


def _published_at(port: PortEntry) -> float | None:
    if port.published is None:
        return None
    return datetime.fromisoformat(port.published.published_at).timestamp()


def data_times(catalog: Catalog, keys: list[str] | None = None) -> dict[str, DataTime]:
    """Per product key: ``(basis, newest data time, first day, last day)``.

    A product with a time column is measured by it (its oldest port counts); one without is
    bounded by its inputs (its data can be no newer than the newest of what it reads); one
    reading only operational systems, without a time column, by its publish time. Products
    never published are left out. ``keys``: only these products (and what they read)."""
    found: dict[str, DataTime] = {}

    def visit(key: str, seen: frozenset[str]) -> DataTime | None:
        if key in found:
            return found[key]
        product = catalog.products[key]
        published = [_published_at(p) for p in product.ports]
        if not published or any(t is None for t in published):
            return None
        ranges = [data_range(p) for p in product.ports]
        result: DataTime
        if all(r is not None for r in ranges):
            first = min(r[0] for r in ranges if r)
            last = min(r[1] for r in ranges if r)
            result = ("data", _end_of(last), first, last)
        else:
            from_ports = all(i.kind == "output_port" and i.upstream_product for i in product.inputs)
            bounds = [visit(up, seen | {key}) for up in product.upstream if up not in seen]
            if from_ports and bounds and len(bounds) == len(product.upstream) and all(bounds):
                newest = max(b[1] for b in bounds if b)
                days = [b[3] for b in bounds if b and b[3]]
                result = ("inputs", newest, None, max(days) if days else None)
            else:
                result = ("publish", min(t for t in published if t is not None), None, None)
        found[key] = result
        return result

    for key in catalog.products if keys is None else keys:
        visit(key, frozenset())
    return found


def freshness(
    product: ProductEntry, data_time: DataTime | None, now: float | None = None
) -> Freshness:
    """The product's data age against its SLO (``data_time`` from :func:`data_times`)."""
    slo = product.slo_freshness_hours
    if data_time is None:
        return Freshness("never published", None, slo)
    now = now or time.time()
    basis, newest, first, last = data_time
    times = [t for t in (_published_at(p) for p in product.ports) if t is not None]
    published = min(times) if times else None
    age = round(max(now - newest, 0) / 3600, 2)
    extra: dict[str, Any] = {
        "basis": basis,
        "data_from": first,
        "data_to": last,
        "newest_data_at": datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds"),
        "published_at": (
            datetime.fromtimestamp(published, UTC).isoformat(timespec="seconds")
            if published
            else None
        ),
        "publish_age_hours": round((now - published) / 3600, 2) if published else None,
    }
    if slo is None:
        return Freshness("no SLO", age, None, **extra)
    return Freshness("fresh" if age <= slo else "stale", age, slo, **extra)


@dataclass(frozen=True)
class BuildState:
    """The port's newest build: published, or blocked by a failed check (and what is served)."""

    blocked: bool
    run_id: str | None = None
    at: str | None = None
    failed_checks: tuple[str, ...] = ()
    serving_snapshot: str | None = None  # the snapshot consumers still read
    serving_published_at: str | None = None
    serving_passed: bool | None = None  # did the run that published it pass its checks


def build_state(port: PortEntry, history: PortHistory) -> BuildState | None:
    """None before any run; ``blocked`` when the newest run failed a check and did not publish
    (write-audit-publish: consumers still read the previous snapshot, which passed)."""
    if not history.runs:
        return None
    newest = history.runs[0]
    published = port.published
    serving: dict[str, Any] = {}
    if published is not None:
        serving["serving_snapshot"] = published.snapshot_id
        serving["serving_published_at"] = published.published_at[:19] + "Z"
        publisher = next((r for r in history.runs if r.run_id == published.run_id), None)
        # a snapshot is only published after its blocking checks passed (write-audit-publish)
        serving["serving_passed"] = publisher.checks_failed == 0 if publisher else True
    if newest.published or not newest.checks_failed:
        return BuildState(False, newest.run_id, newest.at_iso, **serving)
    failed = tuple(sorted(set(newest.failed_checks)))
    return BuildState(True, newest.run_id, newest.at_iso, failed, **serving)


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

"""Which days of a step's upstream ports changed since the step last built: incremental consumers.

A consumer domain's aggregates over a daily port (revenue per month, summaries per
month, weekly charts) need not re-read the port's whole history when one day arrives. A port
published per day records a checksum per day (see ports.py); a step remembers, after it
succeeded, the checksums of every upstream port each asset it rebuilt was built from
(``consumed.json`` beside the step's dbt artifacts). Before the next build it compares them with the ports' current snapshots:

* only days of per-day ports changed → ``MESH_CHANGED_FROM`` = the earliest changed day, and an
  incremental model recomputes its periods from there (``{{ mesh.changed_from() }}``);
* anything else — no record yet, a port published whole changed, a port newly read, a full
  rebuild asked for (run tag ``mesh/full_refresh``), or no upstream change at all (the run was
  started by something else, e.g. an operational source) → no variable: models rebuild fully.

Content, not run history, decides: a rebuild that publishes the same rows changes nothing
downstream, and a day re-published with late rows is recomputed wherever it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_platform.core.address import PortAddress
from mesh_platform.core.manifest import domain_of, source_major, source_port_address
from mesh_platform.ports.location import PortStore
from mesh_platform.ports.store import PublishedPort, current_snapshot, write_json_atomic

CHANGED_FROM_ENV = "MESH_CHANGED_FROM"
FULL_REFRESH_TAG = "mesh/full_refresh"
RECORD = "consumed.json"


@dataclass(frozen=True)
class UpstreamChanges:
    """What a step reads upstream now, and from which day it may rebuild (None: fully)."""

    current: dict[str, dict[str, Any]]  # "<address> v<N>" -> what was read (see _state)
    changed_from: str | None
    reason: str

    def env(self) -> dict[str, str]:
        return {CHANGED_FROM_ENV: self.changed_from} if self.changed_from else {}


def upstream_ports(manifest: Mapping[str, Any], domain: str) -> list[tuple[str, int]]:
    """(address, major) of every output port the domain's dbt sources read."""
    found = set()
    for props in manifest.get("sources", {}).values():
        address = source_port_address(props)
        if address and domain_of(props) == domain:
            found.add((address, source_major(props) or 1))
    return sorted(found)


def _state(published: PublishedPort | None) -> dict[str, Any]:
    if published is None:
        return {"snapshot": None}
    if published.partitions is not None:
        return {"days": dict(published.partitions)}
    return {"checksum": published.checksum}


def resolve_upstream(
    ports_dir: Path | PortStore, ports: list[tuple[str, int]]
) -> dict[tuple[str, int], PublishedPort | None]:
    """The current snapshot of each ``(address, major)`` (None: never published): what a step
    reads, resolved once (the step pins these for dbt, see pinned.py)."""
    resolved = {}
    for address, major in ports:
        parsed = PortAddress.parse(address)
        resolved[(address, major)] = current_snapshot(ports_dir, parsed.domain, parsed.port, major)
    return resolved


def upstream_state(
    resolved: Mapping[tuple[str, int], PublishedPort | None],
) -> dict[str, dict[str, Any]]:
    return {f"{address} v{major}": _state(p) for (address, major), p in resolved.items()}


def decide(
    records: list[dict[str, dict[str, Any]] | None],
    current: dict[str, dict[str, Any]],
    full_refresh: bool = False,
) -> UpstreamChanges:
    """``records``: for each asset the run rebuilds, what it was last built from (None if
    unknown). Rebuild from the earliest day any of them has not seen, or fully."""

    def full(reason: str) -> UpstreamChanges:
        return UpstreamChanges(current, None, reason)

    if full_refresh:
        return full("a full rebuild was asked for")
    if not current:
        return full("the step reads no output port")
    if not records or any(r is None for r in records):
        return full("an asset of the step has not been built since it was recorded")
    earliest: str | None = None
    for record in records:
        for name, now in current.items():
            then = record.get(name)
            if then is None:
                return full(f"{name} is read for the first time")
            if "days" not in now or "days" not in then:
                if now != then:
                    return full(f"{name} changed (published whole, not per day)")
                continue
            changed = [
                day
                for day in set(now["days"]) | set(then["days"])
                if now["days"].get(day) != then["days"].get(day)
            ]
            if changed:
                first = min(changed)
                earliest = first if earliest is None else min(earliest, first)
    if earliest is None:
        return full("no upstream port changed since the last build")
    return UpstreamChanges(current, earliest, f"upstream days changed from {earliest}")


def record_path(step_dir: Path) -> Path:
    return step_dir / RECORD


def _read(path: Path) -> dict[str, dict[str, Any]]:
    """The step's record by asset; empty when there is none (or it cannot be read)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def load_records(path: Path, assets: list[str]) -> list[dict[str, dict[str, Any]] | None]:
    """What each of ``assets`` was last built from (None for an asset never recorded)."""
    by_asset = _read(path)
    return [by_asset.get(asset) for asset in assets]


def save_records(path: Path, assets: list[str], changes: UpstreamChanges) -> None:
    """After a successful build: what it read is what each rebuilt asset was built from.

    Per asset, because a run may rebuild a subset of the step (``--day`` runs only what is
    downstream of the day): a run vouches only for the assets it rebuilt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    by_asset = _read(path)
    by_asset.update({asset: changes.current for asset in assets})
    write_json_atomic(path, by_asset)

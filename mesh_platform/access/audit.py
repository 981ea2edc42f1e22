"""The audit log: every read of data and every access decision, one JSON line each.

``<data>/access/audit.jsonl`` is append-only; each entry is written with one ``write`` of a
whole line under an exclusive lock, so concurrent readers (CLI, portal, Python) never
interleave. Usage per product (who reads what, how often, how many rows) is derived from it for
the catalog.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mesh_platform.core.locked_files import locked

AUDIT_FILE = "audit.jsonl"


@dataclass(frozen=True)
class AuditEntry:
    user: str
    action: (
        str  # read | denied | refused | request | approve | deny | revoke | token | token_revoke
    )
    channel: str  # cli | python | api | portal
    ports: tuple[str, ...] = ()
    rows: int | None = None
    detail: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))


def audit_path(data_dir: Path) -> Path:
    return data_dir / "access" / AUDIT_FILE


def record(data_dir: Path, entry: AuditEntry) -> None:
    path = audit_path(data_dir)
    line = json.dumps(asdict(entry), sort_keys=True) + "\n"
    with locked(path), open(path, "a") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_entries(data_dir: Path) -> Iterator[AuditEntry]:
    path = audit_path(data_dir)
    if not path.exists():
        return
    with open(path) as handle:
        for line in handle:
            if line.strip():
                raw = json.loads(line)
                raw["ports"] = tuple(raw.get("ports") or ())
                yield AuditEntry(**raw)


@dataclass
class PortUsage:
    reads: int = 0
    rows: int = 0
    denied: int = 0
    last_read_at: str | None = None
    readers: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def usage_by_product(
    entries: Iterable[AuditEntry], port_product: dict[str, str]
) -> dict[str, PortUsage]:
    """Per product key: reads, rows read, denials and who reads it (from ``address vN`` ports)."""
    usage: dict[str, PortUsage] = defaultdict(PortUsage)
    for entry in entries:
        products = {port_product.get(p.split(" ")[0]) for p in entry.ports} - {None}
        for key in products:
            item = usage[key]
            if entry.action == "read":
                item.reads += 1
                item.rows += entry.rows or 0
                item.readers[entry.user] = item.readers.get(entry.user, 0) + 1
                item.last_read_at = max(item.last_read_at or "", entry.at)
            elif entry.action == "denied":
                item.denied += 1
    return dict(usage)

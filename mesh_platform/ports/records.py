"""The side records kept beside a port version's snapshots, one writer/reader pair each.

- ``schema.json``: the schema the port version was last published with (``mesh diff`` and
  governance compare the declared schema against it);
- ``governance.json``: the port's latest governance result, whether that run published and
  which snapshot (the catalog and portal show it).

Both are written atomically (temporary file, then rename): a reader sees the previous record
or the new one, never half of one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mesh_platform.core.declared_schema import PortSchema
from mesh_platform.ports.store import port_dir, record_json

SCHEMA_FILE = "schema.json"
GOVERNANCE_FILE = "governance.json"


def published_schema_path(ports_dir: Path, domain: str, port: str, version: int) -> Path:
    return port_dir(ports_dir, domain, port, version) / SCHEMA_FILE


def write_published_schema(ports_dir: Path, schema: PortSchema) -> Path:
    """Record the schema a port version was published with, next to its snapshots."""
    return record_json(
        ports_dir, schema.domain, schema.port, schema.version, SCHEMA_FILE, schema.to_json()
    )


def read_published_schema(
    ports_dir: Path, domain: str, port: str, version: int
) -> PortSchema | None:
    """The schema recorded when ``domain.port`` v``version`` was last published, if any."""
    path = published_schema_path(ports_dir, domain, port, version)
    if not path.exists():
        return None
    return PortSchema.from_json(json.loads(path.read_text()))


def write_governance_record(
    ports_dir: Path, domain: str, port: str, version: int, record: dict[str, Any]
) -> Path:
    """Record the port version's latest governance result (see the module docstring)."""
    return record_json(ports_dir, domain, port, version, GOVERNANCE_FILE, record)


def read_governance_record(
    ports_dir: Path, domain: str, port: str, version: int
) -> dict[str, Any] | None:
    """The latest governance record of ``domain.port`` v``version``; None if none or unreadable."""
    path = port_dir(ports_dir, domain, port, version) / GOVERNANCE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None

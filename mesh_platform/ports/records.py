"""The side records kept beside a port version's Iceberg table, one writer/reader pair each.

- ``schema.json``: the schema the port version was last published with (``mesh diff`` and
  governance compare the declared schema against it);
- ``governance.json``: the port's latest governance result, whether that run published and
  which snapshot (the catalog and portal show it).

Both are JSON objects in the table's folder (``<table>/mesh/``), on a local path or S3, written
atomically (a rename; one PUT): a reader sees the previous record or the new one, never half of
one. The governance record exists for a port that was never published (its first build was
blocked), which is why it is not a table property.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesh_platform.core.declared_schema import PortSchema
from mesh_platform.ports.location import PortStore
from mesh_platform.ports.store import read_record, record_json

SCHEMA_FILE = "schema.json"
GOVERNANCE_FILE = "governance.json"


def write_published_schema(ports_dir: Path | PortStore, schema: PortSchema) -> str:
    """Record the schema a port version was published with, next to its table."""
    return record_json(
        ports_dir, schema.domain, schema.port, schema.version, SCHEMA_FILE, schema.to_json()
    )


def read_published_schema(
    ports_dir: Path | PortStore, domain: str, port: str, version: int
) -> PortSchema | None:
    """The schema recorded when ``domain.port`` v``version`` was last published, if any."""
    payload = read_record(ports_dir, domain, port, version, SCHEMA_FILE)
    return None if payload is None else PortSchema.from_json(payload)


def write_governance_record(
    ports_dir: Path | PortStore, domain: str, port: str, version: int, record: dict[str, Any]
) -> str:
    """Record the port version's latest governance result (see the module docstring)."""
    return record_json(ports_dir, domain, port, version, GOVERNANCE_FILE, record)


def read_governance_record(
    ports_dir: Path | PortStore, domain: str, port: str, version: int
) -> dict[str, Any] | None:
    """The latest governance record of ``domain.port`` v``version``; None if none or unreadable."""
    return read_record(ports_dir, domain, port, version, GOVERNANCE_FILE)

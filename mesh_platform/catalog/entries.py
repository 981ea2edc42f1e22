"""What the catalog knows about each data product: one source of truth, read from the mesh.

Entries are built (:mod:`mesh_platform.catalog.build`) from the descriptors, the dbt model
YAML (columns, docs, personal-data classification), the Soda contracts, the published ports
and — for history — the Dagster instance. Nothing here is maintained by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mesh_platform.core.address import PortAddress
from mesh_platform.ports.store import PublishedPort


@dataclass(frozen=True)
class ColumnEntry:
    name: str
    data_type: str
    description: str
    nullable: bool
    pii_category: str | None = None
    pii_treatment: str | None = None

    @property
    def personal(self) -> bool:
        """Classified as personal data: hidden unless a grant covers personal data."""
        return self.pii_category is not None


@dataclass(frozen=True)
class PortEntry:
    address: str
    name: str
    version: int
    model: str
    description: str
    columns: tuple[ColumnEntry, ...]
    example: str
    owner_team: str | None
    owner_contact: str | None
    check_names: tuple[str, ...]
    contract_file: str
    deprecation_date: str | None = None
    published: PublishedPort | None = None
    governance: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.address} v{self.version}"

    @property
    def domain(self) -> str:
        return PortAddress.parse(self.address).domain

    @property
    def personal_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.personal)


@dataclass(frozen=True)
class InputEntry:
    """Where a product reads from: another product's port, or an operational system."""

    kind: str
    source: str  # a port address, or `system.table` of an operational system
    description: str
    upstream_product: str | None = None  # the product owning the port, when kind is a port


@dataclass
class ProductEntry:
    domain: str
    name: str
    description: str
    owner_team: str | None
    owner_contact: str | None
    tier: str
    classification: str
    tags: tuple[str, ...]
    slo_freshness_hours: float | None
    automation: str
    partitioning: str | None
    inputs: tuple[InputEntry, ...]
    ports: tuple[PortEntry, ...]
    descriptor_file: str
    downstream: list[str] = field(default_factory=list)
    status: str = "released"  # or "draft": its schema may change, other domains cannot read it
    caveats: tuple[str, ...] = ()  # what a consumer must not do with the data (descriptor)

    @property
    def key(self) -> str:
        return f"{self.domain}.{self.name}"

    @property
    def automation_kind(self) -> str:
        """``schedule`` or ``eager`` (``automation`` reads ``schedule <cron>`` or ``eager``)."""
        return "schedule" if self.automation.startswith("schedule") else self.automation

    @property
    def upstream(self) -> list[str]:
        return sorted({i.upstream_product for i in self.inputs if i.upstream_product})

    def latest_ports(self) -> list[PortEntry]:
        """The newest major of each port name (what a new consumer should read)."""
        newest: dict[str, PortEntry] = {}
        for port in self.ports:
            if port.name not in newest or port.version > newest[port.name].version:
                newest[port.name] = port
        return list(newest.values())

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["key"] = self.key
        raw["upstream"] = self.upstream
        return raw


@dataclass(frozen=True)
class DomainEntry:
    name: str
    description: str
    owner_team: str
    owner_contact: str
    products: tuple[str, ...]

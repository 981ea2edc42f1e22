"""One view of a data product, rendered by every surface: Dagster metadata, the catalog and
portal, the CLI's summary table.

Each question has one answer here. The owner of a port is the port's own steward, else the
product's owner, else the domain's owner team (who owns everything in its domain until it
names someone else); governance may still demand an explicit owner, but no surface shows a
different one. A port's Dagster asset is keyed by its model (``[domain, model]``), so two
majors of one port are two assets; its Soda dataset is ``<domain>/marts/<model>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mesh_platform.core.address import PortAddress
from mesh_platform.core.descriptor import DataProduct, OutputPort, Owner
from mesh_platform.core.domain import Domain

MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class PortView:
    product: str
    address: PortAddress
    version: int
    model: str
    owner: Owner
    contract: str  # relative to the domain's folder
    deprecation_date: date | None

    @property
    def domain(self) -> str:
        return self.address.domain

    @property
    def label(self) -> str:
        """``domain.port vN``: how users read a port version."""
        return self.address.versioned(self.version)

    @property
    def asset_path(self) -> list[str]:
        return [self.address.domain, self.model]

    @property
    def asset_key_string(self) -> str:
        """The asset key as Dagster prints it (``domain/model``)."""
        return "/".join(self.asset_path)

    @property
    def soda_dataset(self) -> str:
        return f"{self.address.domain}/{MARTS_SCHEMA}/{self.model}"


@dataclass(frozen=True)
class ProductView:
    domain: str
    name: str
    owner: Owner
    ports: tuple[PortView, ...]


def effective_owner(domain: Domain, product: DataProduct, port: OutputPort | None = None) -> Owner:
    """Who answers for ``product`` (or one of its ports): see the module docstring."""
    return (port and port.owner) or product.owner or domain.spec.owner


def port_view(domain: Domain, product: DataProduct, port: OutputPort) -> PortView:
    return PortView(
        product=product.name,
        address=PortAddress(domain.name, port.name),
        version=port.version,
        model=port.model,
        owner=effective_owner(domain, product, port),
        contract=port.contract,
        deprecation_date=port.deprecation_date,
    )


def product_view(domain: Domain, product: DataProduct) -> ProductView:
    return ProductView(
        domain=domain.name,
        name=product.name,
        owner=effective_owner(domain, product),
        ports=tuple(port_view(domain, product, port) for port in product.output_ports),
    )

"""The catalog: every product of the mesh, looked up by key, port address or domain."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from mesh_platform.catalog.entries import DomainEntry, PortEntry, ProductEntry


class CatalogError(LookupError):
    """An unknown product, port or domain; the message suggests the closest names."""


def _unknown(kind: str, name: str, known: list[str]) -> CatalogError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else "; `mesh catalog search TEXT` finds products"
    )
    return CatalogError(f"unknown {kind} {name!r}{hint}")


@dataclass
class Catalog:
    products: dict[str, ProductEntry]
    domains: dict[str, DomainEntry]
    problems: list[str] = field(default_factory=list)  # domains that could not be read

    def __post_init__(self) -> None:
        self._ports: dict[str, list[PortEntry]] = {}
        self._port_product: dict[str, str] = {}
        for product in self.products.values():
            for port in product.ports:
                self._ports.setdefault(port.address, []).append(port)
                self._port_product[port.address] = product.key
        for versions in self._ports.values():
            versions.sort(key=lambda p: p.version)

    def product(self, key: str) -> ProductEntry:
        if key not in self.products:
            raise _unknown("data product", key, list(self.products))
        return self.products[key]

    def port(self, address: str, version: int | None = None) -> PortEntry:
        versions = self._ports.get(address)
        if not versions:
            raise _unknown("output port", address, list(self._ports))
        if version is None:
            return versions[-1]
        for port in versions:
            if port.version == version:
                return port
        have = ", ".join(f"v{p.version}" for p in versions)
        raise CatalogError(f"output port {address} has no major version {version} (it has {have})")

    def product_of_port(self, address: str) -> ProductEntry:
        if address not in self._port_product:
            raise _unknown("output port", address, list(self._ports))
        return self.products[self._port_product[address]]

    def resolve_target(self, target: str) -> tuple[ProductEntry, list[PortEntry]]:
        """A grant or request target: a product key (all its ports) or a port address."""
        if target in self.products:
            product = self.products[target]
            return product, list(product.ports)
        if target in self._ports:
            return self.product_of_port(target), list(self._ports[target])
        raise _unknown("data product or port", target, [*self.products, *self._ports])

    def all_ports(self) -> list[PortEntry]:
        return [p for versions in self._ports.values() for p in versions]

    def domain(self, name: str) -> DomainEntry:
        if name not in self.domains:
            raise _unknown("domain", name, list(self.domains))
        return self.domains[name]

"""How a domain's products map onto its dbt models: which model backs which output port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mesh_platform.core.contracts import ContractSpec, load_contract
from mesh_platform.core.descriptor import DataProduct, DescriptorError, OutputPort, PortInput
from mesh_platform.core.domain import Domain
from mesh_platform.core.manifest import domain_models, in_domain_ancestors

MARTS_SCHEMA = "marts"


@dataclass(frozen=True)
class PortBinding:
    """One output port: its product, its dbt model and its parsed contract."""

    product: DataProduct
    port: OutputPort
    unique_id: str
    contract: ContractSpec

    @property
    def address(self) -> str:
        return self.product.address(self.port)

    @property
    def relation(self) -> str:
        return f"{MARTS_SCHEMA}.{self.port.model}"


@dataclass(frozen=True, eq=False)
class DomainBindings:
    domain: Domain
    manifest: Mapping[str, Any]
    ports: dict[str, PortBinding]  # by dbt unique_id
    model_product: dict[str, DataProduct]  # every domain model -> the product that owns it

    def port_for(self, unique_id: str) -> PortBinding | None:
        return self.ports.get(unique_id)


def bind_domain(domain: Domain, manifest: Mapping[str, Any]) -> DomainBindings:
    """Resolve every output port to its dbt model and contract; fail clearly on a mismatch."""
    models = domain_models(manifest, domain.name)
    by_name = {node["name"]: uid for uid, node in models.items()}
    ports: dict[str, PortBinding] = {}
    for product in domain.products:
        for port in product.output_ports:
            uid = by_name.get(port.model)
            if uid is None:
                raise DescriptorError(
                    f"domain {domain.name}, product {product.name}: output port {port.name!r} "
                    f"names dbt model {port.model!r}, which is not in "
                    f"dbt_project/models/{domain.name}/; create the model or fix `model`"
                )
            node = models[uid]
            if node["config"].get("schema") != MARTS_SCHEMA:
                raise DescriptorError(
                    f"domain {domain.name}, product {product.name}: model {port.model!r} backs an "
                    f"output port and must live in models/{domain.name}/marts/"
                )
            contract = load_contract(
                domain.contract_path(port.contract), f"{domain.name}/{MARTS_SCHEMA}/{port.model}"
            )
            ports[uid] = PortBinding(product, port, uid, contract)
        _check_upstream_ports(domain, product)
    # A port model belongs to its own product; an internal model to the product nearest to
    # it downstream (fewest in-domain ancestors first), so a staging model shared by a daily
    # source-aligned product and the aggregates built on it gets the source-aligned product's
    # partitioning and automation, not an aggregate's.
    model_product = {uid: binding.product for uid, binding in ports.items()}
    ancestors = {uid: in_domain_ancestors(manifest, uid) for uid in ports}
    for uid in sorted(ports, key=lambda u: (len(ancestors[u]), u)):
        for owned in sorted(ancestors[uid]):
            model_product.setdefault(owned, ports[uid].product)
    return DomainBindings(
        domain=domain, manifest=manifest, ports=ports, model_product=model_product
    )


def _check_upstream_ports(domain: Domain, product: DataProduct) -> None:
    for inp in product.input_ports:
        if isinstance(inp, PortInput) and inp.port == f"{domain.name}.{product.name}":
            raise DescriptorError(
                f"domain {domain.name}, product {product.name}: a product cannot read its own port"
            )

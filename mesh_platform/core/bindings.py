"""How a domain's products map onto its dbt models, computed once per domain.

Which model backs which output port (with its parsed contract), which product owns every
model, which models are daily-partitioned, and which published port *version* each of the
domain's ``mesh_port`` sources reads — so the translator, the definitions, governance and the
catalog ask one object instead of re-walking the dbt manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mesh_platform.core.address import PortAddress
from mesh_platform.core.contracts import ContractSpec, load_contract
from mesh_platform.core.descriptor import (
    DataProduct,
    DescriptorError,
    OutputPort,
    PortInput,
    load_domain_descriptors,
)
from mesh_platform.core.domain import Domain
from mesh_platform.core.manifest import (
    domain_models,
    domain_of,
    in_domain_ancestors,
    source_major,
    source_port_address,
)
from mesh_platform.core.product_view import MARTS_SCHEMA, port_view


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


@dataclass(frozen=True)
class UpstreamPort:
    """A published port version the domain reads through a dbt source (``meta.mesh_port``).

    ``major`` is the version the source reads (its location ``.../v<N>/`` or
    ``meta.mesh_port_version``; 1 when it cannot be told). ``model`` is the producer's model
    backing that major — the producer's asset — or None when the producing domain does not
    declare that port version (governance reports it). ``daily``: the producing product is
    daily-partitioned.
    """

    address: PortAddress
    major: int
    model: str | None
    daily: bool

    @property
    def asset_path(self) -> list[str]:
        """The Dagster asset key path of the port version: ``[domain, model]``, the asset the
        producer's code location materializes; a version nobody declares keeps its name."""
        return [self.address.domain, self.model or self.address.port]


@dataclass(frozen=True, eq=False)
class DomainBindings:
    domain: Domain
    manifest: Mapping[str, Any]
    ports: dict[str, PortBinding]  # by dbt unique_id
    model_product: dict[str, DataProduct]  # every domain model -> the product that owns it
    # models of daily-partitioned products (and their in-domain upstream) -> first day
    partitioned: dict[str, date]
    upstream: dict[str, UpstreamPort]  # the domain's mesh_port sources, by dbt unique_id

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
                    f"dbt_project/{domain.name}/models/; create the model or fix `model`"
                )
            node = models[uid]
            # where dbt really builds it (after generate_schema_name and any alias): the port
            # is verified and published from <domain database>.marts.<model>
            built = (node.get("schema") or node["config"].get("schema"), node.get("alias"))
            if built[0] != MARTS_SCHEMA or built[1] not in (None, port.model):
                raise DescriptorError(
                    f"domain {domain.name}, product {product.name}: model {port.model!r} backs an "
                    f"output port, so dbt must build it as {MARTS_SCHEMA}.{port.model} in the "
                    f"domain's database, but it builds {built[0]}.{built[1] or port.model}: put "
                    f"it under dbt_project/{domain.name}/models/marts/ (`+schema: marts`), with "
                    "no alias, and keep a generate_schema_name override from renaming `marts`"
                )
            contract = load_contract(
                domain.contract_path(port.contract), port_view(domain, product, port).soda_dataset
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
    partitioned = {
        model: binding.product.partitioning.start
        for uid, binding in ports.items()
        if binding.product.partitioning
        for model in {uid, *ancestors[uid]}
    }
    return DomainBindings(
        domain=domain,
        manifest=manifest,
        ports=ports,
        model_product=model_product,
        partitioned=partitioned,
        upstream=_upstream_ports(domain, manifest),
    )


def _upstream_ports(domain: Domain, manifest: Mapping[str, Any]) -> dict[str, UpstreamPort]:
    """Each ``mesh_port`` source of the domain, resolved to the port version it reads."""
    producers: dict[str, list[DataProduct]] = {}
    found = {}
    for uid, source in manifest["sources"].items():
        text = source_port_address(source)
        if domain_of(source) != domain.name or not text:
            continue
        try:
            address = PortAddress.parse(text)
        except ValueError:
            continue  # governance (boundaries) reports the malformed address
        if address.domain not in producers:
            try:
                producers[address.domain] = load_domain_descriptors(
                    domain.path.parent / address.domain
                )
            except (DescriptorError, OSError):
                producers[address.domain] = []  # reported when that domain loads
        major = source_major(source) or 1
        match = [
            (product, port)
            for product in producers[address.domain]
            for port in product.output_ports
            if port.name == address.port and port.version == major
        ]
        model, daily = (
            (match[0][1].model, bool(match[0][0].partitioning)) if match else (None, False)
        )
        found[uid] = UpstreamPort(address, major, model, daily)
    return found


def _check_upstream_ports(domain: Domain, product: DataProduct) -> None:
    for inp in product.input_ports:
        if isinstance(inp, PortInput) and inp.port == f"{domain.name}.{product.name}":
            raise DescriptorError(
                f"domain {domain.name}, product {product.name}: a product cannot read its own port"
            )

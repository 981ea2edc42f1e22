"""Build the catalog from the mesh itself: descriptors, dbt model YAML, contracts, ports.

File reads only — no dbt parse, no database, no Dagster import — so ``mesh catalog`` answers in
a fraction of a second and the portal rebuilds it whenever a file changes. History and usage
are added by :mod:`mesh_platform.catalog.history` and the audit log when asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import (
    ColumnEntry,
    DomainEntry,
    InputEntry,
    PortEntry,
    ProductEntry,
)
from mesh_platform.core.contracts import load_contract
from mesh_platform.core.data_window import declared_window, partitions_start
from mesh_platform.core.declared_schema import model_entries, normalize_type
from mesh_platform.core.descriptor import DataProduct, DescriptorError, OutputPort, PortInput
from mesh_platform.core.domain import Domain, discover_domain_dirs, load_domain
from mesh_platform.core.environment import MeshEnvironment, get_environment
from mesh_platform.core.product_view import effective_owner, port_view
from mesh_platform.governance.context import column_meta
from mesh_platform.governance.report import GOVERNANCE_CHECK_NAME as GOVERNANCE_CHECK
from mesh_platform.ports.location import PortStore, port_store
from mesh_platform.ports.records import read_governance_record
from mesh_platform.ports.store import PublishedPort, list_published


def _columns(entry: dict[str, Any] | None) -> tuple[ColumnEntry, ...]:
    columns = []
    for column in (entry or {}).get("columns") or []:
        pii = column_meta(column).get("pii")
        constraints = {str(c.get("type", "")).lower() for c in column.get("constraints") or []}
        columns.append(
            ColumnEntry(
                name=column["name"],
                data_type=normalize_type(column.get("data_type") or "unknown"),
                description=" ".join(str(column.get("description") or "").split()),
                nullable=not constraints & {"not_null", "primary_key"},
                pii_category=pii.get("category") if isinstance(pii, dict) else None,
                pii_treatment=pii.get("treatment") if isinstance(pii, dict) else None,
            )
        )
    return tuple(columns)


def _check_names(domain: Domain, product: DataProduct, port: OutputPort) -> tuple[str, ...]:
    try:
        spec = load_contract(
            domain.contract_path(port.contract), port_view(domain, product, port).soda_dataset
        )
    except (DescriptorError, FileNotFoundError):
        return (GOVERNANCE_CHECK,)
    return (*(c.name for c in spec.checks), GOVERNANCE_CHECK)


def _port_entry(
    env: MeshEnvironment,
    domain: Domain,
    product: DataProduct,
    port: OutputPort,
    models: dict[str, tuple[Path, dict[str, Any]]],
    published: dict[tuple[str, int], PublishedPort],
    store: PortStore,
) -> PortEntry:
    view = port_view(domain, product, port)
    _, model = models.get(port.model, (None, None))
    return PortEntry(
        address=product.address(port),
        name=port.name,
        version=port.version,
        model=port.model,
        description=" ".join((port.description or product.description).split()),
        columns=_columns(model),
        example=" ".join((port.example or "").split()),
        owner_team=view.owner.team,
        owner_contact=view.owner.contact,
        check_names=_check_names(domain, product, port),
        contract_file=f"domains/{domain.name}/{port.contract}",
        deprecation_date=port.deprecation_date.isoformat() if port.deprecation_date else None,
        published=published.get((product.address(port), port.version)),
        governance=read_governance_record(store, domain.name, port.name, port.version),
    )


def _product_entry(
    env: MeshEnvironment, domain: Domain, product: DataProduct, models, published, store
) -> ProductEntry:
    inputs = tuple(
        InputEntry(
            kind=i.kind,
            source=i.port if isinstance(i, PortInput) else i.source,
            description=" ".join(i.description.split()),
        )
        for i in product.input_ports
    )
    automation = product.automation
    return ProductEntry(
        domain=domain.name,
        name=product.name,
        description=" ".join(product.description.split()),
        owner_team=effective_owner(domain, product).team,
        owner_contact=effective_owner(domain, product).contact,
        tier=str(product.tier),
        classification=str(product.classification),
        tags=tuple(product.tags),
        slo_freshness_hours=product.slo.freshness_hours if product.slo else None,
        automation=f"schedule {automation.cron}" if automation.cron else automation.kind,
        partitioning=_partitioning(env, product),
        inputs=inputs,
        ports=tuple(
            _port_entry(env, domain, product, p, models, published, store)
            for p in product.output_ports
        ),
        descriptor_file=f"domains/{domain.name}/products/{product.name}.yaml",
        status=product.status,
        caveats=tuple(product.caveats),
    )


def _link_lineage(products: dict[str, ProductEntry]) -> None:
    """Resolve each port input to the product owning the port; fill every ``downstream``."""
    owner_of = {port.address: p.key for p in products.values() for port in p.ports}
    for product in products.values():
        resolved = []
        for inp in product.inputs:
            upstream = owner_of.get(inp.source) if inp.kind == "output_port" else None
            resolved.append(
                InputEntry(inp.kind, inp.source, inp.description, upstream_product=upstream)
            )
            if upstream and product.key not in products[upstream].downstream:
                products[upstream].downstream.append(product.key)
        product.inputs = tuple(resolved)
    for product in products.values():
        product.downstream.sort()


def build_catalog(env: MeshEnvironment | None = None) -> Catalog:
    """Every domain and product of the mesh; a domain that cannot be read is a ``problem``."""
    env = env or get_environment()
    products: dict[str, ProductEntry] = {}
    domains: dict[str, DomainEntry] = {}
    problems: list[str] = []
    # every current snapshot in one pass over the port store (nothing to open when no port was
    # ever published), not one table lookup per declared port
    store = port_store(env.ports_dir)  # resolved once, not once per port
    published = {(p.address, p.version): p for p in list_published(store)}
    for domain_dir in discover_domain_dirs(env.domains_dir):
        try:
            domain = load_domain(domain_dir)
            models = model_entries(env.domain_dbt_dir(domain.name) / "models")
        except DescriptorError as exc:
            problems.append(str(exc))
            continue
        keys = []
        for product in domain.products:
            entry = _product_entry(env, domain, product, models, published, store)
            products[entry.key] = entry
            keys.append(entry.key)
        domains[domain.name] = DomainEntry(
            name=domain.name,
            description=" ".join(domain.spec.description.split()),
            owner_team=domain.spec.owner.team,
            owner_contact=domain.spec.owner.contact,
            products=tuple(keys),
        )
    _link_lineage(products)
    return Catalog(products=products, domains=domains, problems=problems)


def _partitioning(env: MeshEnvironment, product: DataProduct) -> str | None:
    """How the product is partitioned, from the day its partitions really start: its
    ``partitioning.start`` or the operational data's first day, whichever is later (the rule of
    ``build/definitions.py``)."""
    if not product.partitioning:
        return None
    try:
        declared = declared_window(env.operational_dir)
    except ValueError:  # an unreadable window is mesh doctor's to report, not the catalog's
        declared = None
    return (
        f"{product.partitioning.kind} from {partitions_start(product.partitioning.start, declared)}"
    )

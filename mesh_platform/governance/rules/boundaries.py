"""Boundaries: no domain reads another domain's internals.

dbt enforces the model side natively: every model is in its domain's group and private, so
dbt refuses a ``ref`` across domains at parse time. This rule checks that the settings are
really there, and covers what dbt cannot see: sources — a domain may read its own operational
systems and other domains' *published ports* (declared in its input ports), nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mesh_platform.core.address import PortAddress
from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.descriptor import OperationalInput
from mesh_platform.core.manifest import (
    domain_models,
    domain_of,
    in_domain_ancestors,
    node_file,
    source_port_address,
)
from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding

DIRECT_READ = re.compile(
    r"\b(read_parquet|read_csv(_auto)?|read_json(_auto|_objects)?|read_ndjson|parquet_scan|"
    r"sqlite_scan|delta_scan|iceberg_scan|glob|attach)\s*\(|\battach\s+'|\.duckdb\b|"
    r"'[^']*\.(parquet|csv|tsv|json|jsonl|ndjson)(\.gz)?'",
    re.IGNORECASE,
)
PORT_LOCATION = re.compile(r"/(?P<domain>[a-z0-9_]+)/(?P<port>\{name\}|[a-z0-9_]+)/v(?P<v>\d+)/")


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    for bindings in ctx.bindings:
        yield from _domain(ctx, bindings)
        yield from _declared_inputs(ctx, bindings)
        yield from _declared_operational_inputs(ctx, bindings)


def _reads_ports(source: Mapping[str, Any]) -> bool:
    meta = {**(source.get("source_meta") or {}), **(source.get("meta") or {})}
    location = str(meta.get("external_location") or "")
    return "/ports/" in location or "MESH_PORTS_DIR" in location or "warehouse" in location


def _operational_kind(source: Mapping[str, Any]) -> str:
    """The descriptor's input kind for a source, as the scaffold writes them."""
    meta = {**(source.get("source_meta") or {}), **(source.get("meta") or {})}
    location = str(meta.get("external_location") or "").lower()
    if meta.get("plugin") or meta.get("table") or not location:
        return "database"
    if "read_json" in location:
        return "event_stream" if "newline_delimited" in location else "api"
    return "file_drop"


def _product_of(bindings: DomainBindings, uid: str) -> str | None:
    product = bindings.model_product.get(uid)
    return product.name if product else None


def _domain(ctx: MeshContext, bindings: DomainBindings) -> Iterator[Finding]:
    domain = bindings.domain.name
    manifest = ctx.manifest
    for uid, node in sorted(domain_models(manifest, domain).items()):
        product = _product_of(bindings, uid)
        model_file = node_file(node)
        if node.get("group") != domain or node.get("access") != "private":
            yield ctx.finding(
                "boundaries.dbt-group-access",
                domain,
                product,
                None,
                node["name"],
                f"model {node['name']} has group {node.get('group')!r} and access "
                f"{node.get('access')!r}; it must be in group {domain!r} and private so dbt "
                "refuses refs into it from other domains.",
                f"set `+group: {domain}` and `+access: private` for the project's models in "
                f"dbt_project/{domain}/dbt_project.yml (do not override them per model).",
            )
        if DIRECT_READ.search(node.get("raw_code") or ""):
            yield ctx.finding(
                "boundaries.no-direct-file-read",
                domain,
                product,
                None,
                node["name"],
                f"model {node['name']} reads a file or database directly ({model_file}).",
                "declare the input as a dbt source (an operational system of the domain, or "
                "another domain's port with `meta.mesh_port`) and select from `source(...)`.",
            )
        for parent in node.get("depends_on", {}).get("nodes", []):
            source = manifest["sources"].get(parent)
            if source is not None:
                yield from _source(ctx, bindings, uid, node, source)


def _source(
    ctx: MeshContext,
    bindings: DomainBindings,
    uid: str,
    node: Mapping[str, Any],
    source: Mapping[str, Any],
) -> Iterator[Finding]:
    domain = bindings.domain.name
    product = bindings.model_product.get(uid)  # the first product built from the model
    name = f"{source['source_name']}.{source['name']}"
    owner_domain = domain_of(source)
    address = source_port_address(source)
    meta = {**(source.get("source_meta") or {}), **(source.get("meta") or {})}
    location = meta.get("external_location") or ""

    def finding(message: str, fix: str) -> Finding:
        return ctx.finding(
            "boundaries.cross-domain-source",
            domain,
            product.name if product else None,
            None,
            f"source {name}",
            f"model {node['name']} reads source {name}: {message}",
            fix,
        )

    if owner_domain != domain:
        yield finding(
            f"the source is declared by domain {owner_domain}, not {domain} — that is another "
            "domain's operational system or internals.",
            f"read the published output port of domain {owner_domain} instead (a source in "
            f"dbt_project/{domain}/ with `meta.mesh_port: {owner_domain}.<port>`).",
        )
        return
    if address is None:
        if _reads_ports(source):
            yield finding(
                "it reads published ports or a pipeline database without saying which port "
                "(no `meta.mesh_port`), so lineage and the boundary check are bypassed.",
                "add `meta: {mesh_port: <domain>.<port>}` to the source table.",
            )
        return
    if not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", str(address)):
        yield finding(
            f"`meta.mesh_port: {address}` is not a port address `<domain>.<port>`.",
            "write the address of the port it reads, e.g. `sales.orders`.",
        )
        return
    parsed = PortAddress.parse(address)
    port_domain, port_name = parsed.domain, parsed.port
    if port_domain == domain:
        yield finding(
            f"it reads the domain's own port {address} back as a source.",
            "use `ref` to the model inside the domain.",
        )
        return
    declared = ctx.declared_ports.get(address)
    match = PORT_LOCATION.search(location)
    version = int(match["v"]) if match else None
    if declared is None:
        yield finding(
            f"`meta.mesh_port: {address}` names no declared output port.",
            f"fix the address; declared ports of {port_domain}: "
            + (
                ", ".join(sorted(a for a in ctx.declared_ports if a.startswith(port_domain + ".")))
                or "none"
            ),
        )
    elif (
        not match
        or match["domain"] != port_domain
        or match["port"] not in (port_name, "{name}")
        or (match["port"] == "{name}" and source["name"] != port_name)
        or version not in declared
    ):
        yield finding(
            f"its location {location!r} is not the published snapshot of {address} "
            f"(expected …/{port_domain}/{port_name}/v<major>/current.parquet with a declared "
            f"major: {sorted(declared)}).",
            "read `{{ env_var('MESH_PORTS_DIR') }}/<domain>/<port>/v<major>/current.parquet`.",
        )


def _own_models(
    manifest: Mapping[str, Any], bindings: DomainBindings, uid: str
) -> tuple[set[str], set[str]]:
    """Same-domain models a port is built from, stopping at other ports' models (their own
    inputs are theirs to declare), and the upstream port models it stopped at."""
    models: set[str] = set()
    ports: set[str] = set()
    allowed = in_domain_ancestors(manifest, uid)
    stack = [uid]
    while stack:
        node = manifest["nodes"].get(stack.pop(), {})
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent in bindings.ports and parent != uid:
                ports.add(parent)
            elif parent in allowed and parent not in models:
                models.add(parent)
                stack.append(parent)
    return models, ports


def _declared_inputs(ctx: MeshContext, bindings: DomainBindings) -> Iterator[Finding]:
    """The ports a product's models read are exactly the ports its descriptor declares."""
    manifest = ctx.manifest
    domain = bindings.domain.name
    read_by_product: dict[str, set[str]] = {}
    for uid, binding in sorted(bindings.ports.items()):
        product = binding.product
        read: set[str] = set()
        ancestors, upstream_ports = _own_models(manifest, bindings, uid)
        # an input port of the same domain is read by `ref` to the model behind it
        read |= {bindings.ports[m].address for m in upstream_ports}
        for model in {uid, *ancestors}:
            for parent in manifest["nodes"][model].get("depends_on", {}).get("nodes", []):
                address = source_port_address(manifest["sources"].get(parent) or {})
                valid = address and re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", address)
                if valid and not address.startswith(f"{domain}."):
                    read.add(address)
        read_by_product.setdefault(product.name, set()).update(read)
        own = {product.address(p) for p in product.output_ports}
        for address in sorted(read - set(product.upstream_ports) - own):
            yield ctx.finding(
                "boundaries.cross-domain-source",
                domain,
                product.name,
                f"{binding.address} v{binding.port.version}",
                "input_ports",
                f"model {binding.port.model} is built from port {address}, which product "
                f"{product.name} does not declare as an input port.",
                f"add `- {{kind: output_port, port: {address}}}` to `input_ports` of "
                f"domains/{domain}/products/{product.name}.yaml.",
            )
    for product in bindings.domain.products:
        for address in sorted(
            set(product.upstream_ports) - read_by_product.get(product.name, set())
        ):
            yield ctx.finding(
                "boundaries.cross-domain-source",
                domain,
                product.name,
                None,
                "input_ports",
                f"the product declares input port {address} but none of its models reads it, "
                "so its lineage is wrong.",
                f"read it through a source with `meta.mesh_port: {address}` or remove it from "
                f"domains/{domain}/products/{product.name}.yaml.",
            )


def _declared_operational_inputs(ctx: MeshContext, bindings: DomainBindings) -> Iterator[Finding]:
    """The domain's operational systems a port's models read (directly or through same-domain
    models, up to other ports' models) are declared as inputs of its product."""
    manifest = ctx.manifest
    domain = bindings.domain.name
    for uid, binding in sorted(bindings.ports.items()):
        product = binding.product
        declared = {i.source for i in product.input_ports if isinstance(i, OperationalInput)}
        ancestors, _ = _own_models(manifest, bindings, uid)
        read: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for model in sorted({uid, *ancestors}):
            node = manifest["nodes"][model]
            for parent in node.get("depends_on", {}).get("nodes", []):
                source = manifest["sources"].get(parent)
                if (
                    source is None
                    or domain_of(source) != domain  # another domain's: _source reports it
                    or source_port_address(source) is not None
                    or _reads_ports(source)
                ):
                    continue
                name = f"{source['source_name']}.{source['name']}"
                read.setdefault(name, (node["name"], source))
        for name in sorted(set(read) - declared):
            model, source = read[name]
            via = "" if model == binding.port.model else f" (through model {model})"
            yield ctx.finding(
                "boundaries.operational-input-declared",
                domain,
                product.name,
                f"{binding.address} v{binding.port.version}",
                "input_ports",
                f"model {binding.port.model} reads source {name} of operational system "
                f"{name.split('.')[0]}{via}, which product {product.name} does not declare as "
                "an input, so its lineage and catalog entry miss it.",
                f"add `- {{kind: {_operational_kind(source)}, source: {name}}}` to "
                f"`input_ports` of domains/{domain}/products/{product.name}.yaml.",
            )

"""Who is affected when an output port changes: its downstream consumers across all domains.

A breaking change is only as bad as the consumers it breaks, and the producing team cannot see
them from their own folder: other domains read a port as a dbt source carrying
``meta.mesh_port: <domain>.<port>``. This walks the same manifest graph the Dagster asset
graph is built from (the translator gives such a source the upstream port's asset key):

1. the starting points of a port are the sources whose ``mesh_port`` is its address (in any
   domain), and the port's own model, since products of the producing domain read it by
   ``ref``;
2. from each, the graph is followed through models of the *same* domain until it reaches a
   model that backs an output port (mapped with the descriptors' ``output_ports[].model``) —
   that port is a **direct** consumer;
3. the walk repeats from each consuming port: what it reaches is a **transitive** consumer,
   ``via`` the port it reads.

A source names the major it reads in its location (``.../<port>/v<major>/current.parquet``)
or in ``meta.mesh_port_version``; when asked about one major, sources reading another one are
not consumers of it. A source whose major cannot be told is counted, to err on the side of
telling a consumer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mesh_platform.core.descriptor import DataProduct, OutputPort
from mesh_platform.core.domain import Domain
from mesh_platform.core.manifest import domain_of, source_major, source_port_address


@dataclass(frozen=True)
class Consumer:
    """A port built (directly or through ``via``) from the changed port.

    ``port`` is the consuming port's address and ``version`` its major; ``product`` the product
    that owns it. A model reading the port that feeds no output port is reported with
    ``port`` None and the model's name in ``model``.
    """

    domain: str
    product: str | None
    port: str | None
    version: int | None
    direct: bool
    via: str
    model: str | None = None

    @property
    def label(self) -> str:
        target = f"{self.port} v{self.version}" if self.port else f"model {self.model}"
        how = "direct" if self.direct else f"transitive, via {self.via}"
        product = f" (product {self.product})" if self.product else ""
        return f"{target}{product} — {how}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _PortModel:
    product: DataProduct
    port: OutputPort

    @property
    def address(self) -> str:
        return self.product.address(self.port)


def _port_models(manifest: Mapping[str, Any], domains: Iterable[Domain]) -> dict[str, _PortModel]:
    """dbt unique_id of every model backing an output port → its product and port."""
    by_name = {
        (domain_of(node), node["name"]): uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    found = {}
    for domain in domains:
        for product in domain.products:
            for port in product.output_ports:
                uid = by_name.get((domain.name, port.model))
                if uid:
                    found[uid] = _PortModel(product, port)
    return found


def _children(manifest: Mapping[str, Any]) -> Mapping[str, list[str]]:
    if manifest.get("child_map"):
        return manifest["child_map"]
    children: dict[str, list[str]] = {}
    for uid, node in manifest["nodes"].items():
        for parent in node.get("depends_on", {}).get("nodes", []):
            children.setdefault(parent, []).append(uid)
    return children


def _reached_in_domain(
    manifest: Mapping[str, Any],
    children: Mapping[str, list[str]],
    port_models: Mapping[str, _PortModel],
    start: str,
    domain: str,
) -> tuple[list[str], list[str]]:
    """From ``start``, the port models reached through models of ``domain`` (stopping at each),
    and the models reached that feed no port at all."""
    ports, seen, dead_ends = [], {start}, []
    stack = [start]
    while stack:
        uid = stack.pop()
        kids = [
            c
            for c in children.get(uid, [])
            if c in manifest["nodes"]
            and manifest["nodes"][c]["resource_type"] == "model"
            and domain_of(manifest["nodes"][c]) == domain
        ]
        if not kids and uid != start and uid not in port_models:
            dead_ends.append(uid)
        for child in kids:
            if child in seen:
                continue
            seen.add(child)
            if child in port_models:
                ports.append(child)
            else:
                stack.append(child)
    return sorted(ports), sorted(dead_ends)


def _starts(
    manifest: Mapping[str, Any],
    port_models: Mapping[str, _PortModel],
    address: str,
    version: int | None,
) -> list[tuple[str, str]]:
    """(unique_id, domain) nodes from which consumers of ``address`` [v``version``] read it."""
    starts = []
    for uid, source in manifest.get("sources", {}).items():
        if source_port_address(source) != address:
            continue
        major = source_major(source)
        if version is None or major is None or major == version:
            starts.append((uid, domain_of(source)))
    for uid, pm in port_models.items():
        if pm.address == address and (version is None or pm.port.version == version):
            starts.append((uid, pm.product.domain))
    return sorted(starts)


def downstream_consumers(
    manifest: Mapping[str, Any],
    domains: Iterable[Domain],
    address: str,
    version: int | None = None,
) -> list[Consumer]:
    """Every port built from ``address`` (optionally only its major ``version``), direct first.

    Each consuming port appears once, at its shortest distance; the walk never loops.
    """
    port_models = _port_models(manifest, list(domains))
    children = _children(manifest)
    found: dict[tuple[str | None, int | None, str | None], Consumer] = {}
    queue: deque[tuple[str, int | None, bool]] = deque([(address, version, True)])
    visited = {(address, version)}
    while queue:
        current, current_version, direct = queue.popleft()
        for start, domain in _starts(manifest, port_models, current, current_version):
            ports, dead_ends = _reached_in_domain(manifest, children, port_models, start, domain)
            for uid in ports:
                pm = port_models[uid]
                key = (pm.address, pm.port.version, None)
                if (pm.address, pm.port.version) in visited or key in found:
                    continue
                found[key] = Consumer(
                    domain=pm.product.domain,
                    product=pm.product.name,
                    port=pm.address,
                    version=pm.port.version,
                    direct=direct,
                    via=current,
                    model=pm.port.model,
                )
                visited.add((pm.address, pm.port.version))
                queue.append((pm.address, pm.port.version, False))
            for uid in dead_ends:
                node = manifest["nodes"][uid]
                key = (None, None, uid)
                found.setdefault(
                    key,
                    Consumer(
                        domain=domain_of(node),
                        product=None,
                        port=None,
                        version=None,
                        direct=direct,
                        via=current,
                        model=node["name"],
                    ),
                )
    return sorted(
        found.values(),
        key=lambda c: (not c.direct, c.domain, c.product or "", c.port or "", c.model or ""),
    )

"""What the policies look at: the mesh's descriptors, dbt manifest and contracts, per port.

Built once per evaluation. Only the domains in scope are bound to the manifest; the others are
read leniently (their declared port addresses only), so one domain's broken descriptor never
stops another domain's code location from loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.contracts import ContractSpec
from mesh_platform.core.descriptor import DataProduct, OutputPort
from mesh_platform.core.domain import Domain
from mesh_platform.core.manifest import node_file
from mesh_platform.governance.config import GovernanceConfig
from mesh_platform.governance.report import Finding


def column_meta(column: Mapping[str, Any]) -> dict[str, Any]:
    """A dbt column's ``meta``, whether written under ``config:`` or at the top level."""
    return {**(column.get("meta") or {}), **((column.get("config") or {}).get("meta") or {})}


@dataclass(frozen=True)
class PortSubject:
    """One output port as the policies see it: descriptor, dbt model node and Soda contract."""

    domain: Domain
    product: DataProduct
    port: OutputPort
    node: Mapping[str, Any]
    contract: ContractSpec

    @property
    def address(self) -> str:
        return self.product.address(self.port)

    @property
    def columns(self) -> Mapping[str, Mapping[str, Any]]:
        return self.node.get("columns") or {}

    @property
    def port_index(self) -> int:
        return self.product.output_ports.index(self.port)

    @property
    def descriptor_file(self) -> str:
        return f"domains/{self.domain.name}/products/{self.product.name}.yaml"

    @property
    def model_file(self) -> str:
        if self.node.get("patch_path"):
            return node_file(self.node, patch=True)
        return f"dbt_project/{self.domain.name}/models/marts/{self.port.model}.yml"

    @property
    def contract_file(self) -> str:
        return f"domains/{self.domain.name}/{self.port.contract}"


@dataclass
class MeshContext:
    config: GovernanceConfig
    manifest: Mapping[str, Any]
    today: date
    bindings: list[DomainBindings]
    # every declared port address of the whole mesh -> its declared major versions
    declared_ports: dict[str, set[int]]
    ports: list[PortSubject] = field(default_factory=list)
    # addresses of the ports of draft products anywhere in the mesh (drafts of the domains in
    # scope are found from their bindings as well)
    draft_ports: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ports = [
            PortSubject(b.domain, p.product, p.port, self.manifest["nodes"][uid], p.contract)
            for b in self.bindings
            for uid, p in sorted(b.ports.items(), key=lambda kv: kv[1].address)
        ]

    @property
    def domains(self) -> list[Domain]:
        return [b.domain for b in self.bindings]

    @property
    def products(self) -> list[tuple[Domain, DataProduct]]:
        return [(b.domain, p) for b in self.bindings for p in b.domain.products]

    def finding(
        self,
        policy: str,
        domain: str,
        product: str | None,
        port: str | None,
        field: str | None,
        message: str,
        fix: str,
    ) -> Finding:
        return Finding(
            domain=domain,
            product=product,
            port=port,
            policy=policy,
            field=field,
            severity=self.config.severity(policy),
            message=message,
            fix=fix,
        )

    def port_finding(
        self, policy: str, subject: PortSubject, field: str | None, message: str, fix: str
    ) -> Finding:
        return self.finding(
            policy,
            subject.domain.name,
            subject.product.name,
            f"{subject.address} v{subject.port.version}",
            field,
            message,
            fix,
        )

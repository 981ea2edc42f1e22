"""Evaluate the global policies over the mesh, or one domain of it, into one report.

The same evaluation serves ``mesh lint`` (every domain), a code location loading (its own
domain, to fail the governance check of non-compliant ports) and the compliance summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from mesh_platform.core.bindings import DomainBindings, bind_domain
from mesh_platform.core.descriptor import DescriptorError
from mesh_platform.core.domain import Domain, discover_domain_dirs, load_domain
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.governance.config import GovernanceConfig, load_governance
from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding, Severity, sorted_findings
from mesh_platform.governance.rules import STATIC_RULES


@dataclass(frozen=True)
class GovernanceReport:
    """Findings of one evaluation and what was evaluated (for compliance scores)."""

    findings: tuple[Finding, ...]
    products: tuple[tuple[str, str], ...]  # (domain, product) evaluated
    policies: tuple[str, ...]  # policy ids evaluated

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def for_port(self, domain: str, product: str, address_version: str) -> list[Finding]:
        """Findings that block one port: its own, and its product's product-level ones."""
        return [
            f
            for f in self._by_product.get((domain, product), [])
            if f.port in (None, address_version)
        ]

    @cached_property
    def _by_product(self) -> dict[tuple[str | None, str | None], list[Finding]]:
        """Findings per (domain, product): a domain asks once per port, so scanning every
        finding each time cost seconds at 500 products."""
        index: dict[tuple[str | None, str | None], list[Finding]] = {}
        for f in self.findings:
            index.setdefault((f.domain, f.product), []).append(f)
        return index

    def to_json(self) -> dict[str, Any]:
        from mesh_platform.governance.compliance import compliance_summary

        return {
            "findings": [f.to_json() for f in self.findings],
            "errors": len(self.errors),
            "warnings": len(self.findings) - len(self.errors),
            "compliance": compliance_summary(self),
        }


def declared_ports_leniently(
    domains_dir: Path, loaded: Iterable[Domain] = ()
) -> dict[str, set[int]]:
    """Every port address declared anywhere and its majors; broken domains are skipped here
    (they are reported when they themselves are evaluated). ``loaded`` domains are not read
    again."""
    declared: dict[str, set[int]] = {}
    known = {d.name: d for d in loaded}
    for domain_dir in discover_domain_dirs(domains_dir):
        try:
            domain = known.get(domain_dir.name) or load_domain(domain_dir)
        except DescriptorError:
            continue
        for product in domain.products:
            for port in product.output_ports:
                declared.setdefault(product.address(port), set()).add(port.version)
    return declared


def draft_ports_leniently(domains_dir: Path) -> set[str]:
    """Addresses of every port of a draft product; broken domains are skipped, as above."""
    drafts: set[str] = set()
    for domain_dir in discover_domain_dirs(domains_dir):
        try:
            domain = load_domain(domain_dir)
        except DescriptorError:
            continue
        drafts |= {
            product.address(port)
            for product in domain.products
            if product.is_draft
            for port in product.output_ports
        }
    return drafts


def evaluate(
    bindings: Iterable[DomainBindings],
    manifest: Mapping[str, Any],
    config: GovernanceConfig,
    declared_ports: dict[str, set[int]],
    today: date | None = None,
    extra: Iterable[Finding] = (),
    draft_ports: Iterable[str] = (),
) -> GovernanceReport:
    """Run every static rule over the given (already bound) domains."""
    ctx = MeshContext(
        config=config,
        manifest=manifest,
        today=today or date.today(),
        bindings=list(bindings),
        declared_ports=declared_ports,
        draft_ports=set(draft_ports),
    )
    return evaluate_context(ctx, extra)


def evaluate_context(ctx: MeshContext, extra: Iterable[Finding] = ()) -> GovernanceReport:
    """Run every static rule over a built context."""
    findings = [*extra]
    for rule in STATIC_RULES:
        findings.extend(rule.evaluate(ctx))
    return GovernanceReport(
        findings=tuple(sorted_findings(set(findings))),
        products=tuple(sorted((d.name, p.name) for d, p in ctx.products)),
        policies=tuple(sorted(ctx.config.policies)),
    )


def evaluate_mesh(
    env: MeshEnvironment,
    domains: list[str] | None = None,
    manifest: Mapping[str, Any] | None = None,
    today: date | None = None,
    include_published: bool = True,
) -> GovernanceReport:
    """``mesh lint``: load and bind every domain (or the named ones) and evaluate all policies.

    A domain whose descriptors, models and contracts do not fit together cannot be bound; it
    is reported as a ``structure.valid`` error instead of stopping the evaluation. With
    ``include_published``, ports are also compared with what is published in the data
    directory (versioning policy).
    """
    from mesh_platform.core.manifest import load_mesh_manifest

    config = load_governance(env.governance_dir)
    manifest = manifest if manifest is not None else load_mesh_manifest(env)
    dirs = discover_domain_dirs(env.domains_dir)
    known = [d.name for d in dirs]
    unknown = sorted(set(domains or []) - set(known))
    if unknown:
        raise ValueError(f"unknown domain(s) {', '.join(unknown)}; domains: {', '.join(known)}")
    structural: list[Finding] = []
    bound: list[DomainBindings] = []
    for domain_dir in dirs:
        if domains and domain_dir.name not in domains:
            continue
        try:
            domain: Domain = load_domain(domain_dir)
            bound.append(bind_domain(domain, manifest))
        except DescriptorError as exc:
            structural.append(
                Finding(
                    domain=domain_dir.name,
                    product=None,
                    port=None,
                    policy="structure.valid",
                    field=None,
                    severity=config.severity("structure.valid"),
                    message=str(exc).replace("\n", " "),
                    fix="fix the file named above; the domain cannot load until then.",
                )
            )
    if include_published:
        structural.extend(_versioning(env, config, [b.domain.name for b in bound], today))
    return evaluate(
        bound,
        manifest,
        config,
        declared_ports_leniently(env.domains_dir),
        today=today,
        extra=structural,
        draft_ports=draft_ports_leniently(env.domains_dir),
    )


def _versioning(
    env: MeshEnvironment, config: GovernanceConfig, domains: list[str], today: date | None
) -> list[Finding]:
    """Versioning findings against what is published (none where nothing is published)."""
    from mesh_platform.governance.versioning import versioning_findings

    found = versioning_findings(env.repo_root, env.ports_dir, today or date.today())
    return [
        Finding(**{**f.__dict__, "severity": config.severity(f.policy)})
        for f in found
        if f.domain in domains
    ]


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[f.severity.value] += 1
    return counts

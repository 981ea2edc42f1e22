"""The governance gate of one domain's code location: static findings at load, data findings
at run time, and the ``governance`` asset check that shows both next to the contract checks.

A port with an error-level finding still loads (the UI shows it, with the findings in the
check's description and the asset's metadata), but its governance check fails when it runs
and it is not published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from mesh_platform.core.bindings import DomainBindings, PortBinding
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.governance.config import load_governance
from mesh_platform.governance.context import MeshContext, PortSubject
from mesh_platform.governance.engine import (
    GovernanceReport,
    declared_ports_leniently,
    evaluate_context,
)
from mesh_platform.governance.report import GOVERNANCE_CHECK_NAME, Finding, errors
from mesh_platform.governance.runtime import data_findings, versioning_at_publish

CHECK_NAME = GOVERNANCE_CHECK_NAME


@dataclass(frozen=True)
class GovernanceGate:
    ctx: MeshContext
    report: GovernanceReport
    repo_root: Path

    @classmethod
    def for_domain(cls, env: MeshEnvironment, bindings: DomainBindings) -> GovernanceGate:
        ctx = MeshContext(
            config=load_governance(env.governance_dir),
            manifest=bindings.manifest,
            today=date.today(),
            bindings=[bindings],
            declared_ports=declared_ports_leniently(env.domains_dir, loaded=[bindings.domain]),
        )
        return cls(ctx=ctx, report=evaluate_context(ctx), repo_root=env.repo_root)

    def subject(self, binding: PortBinding) -> PortSubject:
        return PortSubject(
            self.ctx.bindings[0].domain,
            binding.product,
            binding.port,
            self.ctx.manifest["nodes"][binding.unique_id],
            binding.contract,
        )

    def static_findings(self, binding: PortBinding) -> list[Finding]:
        return self.report.for_port(
            binding.product.domain,
            binding.product.name,
            f"{binding.address} v{binding.port.version}",
        )

    def check_spec(self, binding: PortBinding, key: dg.AssetKey) -> dg.AssetCheckSpec:
        found = errors(self.static_findings(binding))
        status = (
            f"FAILS at load: {len(found)} error-level finding(s) — "
            + "; ".join(f"{f.policy} ({f.field or '-'})" for f in found[:5])
            if found
            else "compliant at load"
        )
        return dg.AssetCheckSpec(
            CHECK_NAME,
            asset=key,
            blocking=True,
            description=(
                "Global policies of the mesh (governance/): ownership, documentation, contract "
                "coverage, SLO, classification and treatment of personal data, "
                f"interoperability, boundaries, versioning. Status: {status}."
            ),
        )

    def asset_metadata(self, binding: PortBinding) -> dict[str, Any]:
        found = self.static_findings(binding)
        return {
            "mesh/governance_errors_at_load": len(errors(found)),
            "mesh/governance_findings_at_load": dg.MetadataValue.md(findings_markdown(found)),
        }

    def evaluate_at_run(
        self,
        binding: PortBinding,
        connection: Any,
        ports_dir: Path,
        row_filter: str | None = None,
    ) -> list[Finding]:
        subject = self.subject(binding)
        return [
            *self.static_findings(binding),
            *data_findings(self.ctx, subject, connection, binding.relation, row_filter),
            *versioning_at_publish(self.ctx, subject, self.repo_root, ports_dir),
        ]


def findings_markdown(findings: list[Finding]) -> str:
    if not findings:
        return "No findings: every policy is met."
    rows = ["| severity | policy | field | message | fix |", "|---|---|---|---|---|"]
    for f in findings:
        cells = [f.severity.value, f.policy, f.field or "", f.message, f.fix]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def check_result(key: dg.AssetKey, findings: list[Finding]) -> dg.AssetCheckResult:
    blocking = errors(findings)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=not blocking,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "errors": len(blocking),
            "warnings": len(findings) - len(blocking),
            "findings": dg.MetadataValue.md(findings_markdown(findings)),
            "failing_policies": ", ".join(sorted({f.policy for f in blocking})) or "none",
        },
    )

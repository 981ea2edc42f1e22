"""What ``mesh import dbt`` did with each thing of the project, by name, printable by the CLI.

Three lists, so nothing is lost between them: **carried over** (models, seeds, macros, docs,
tests, unit tests, local packages, contract checks), **reported** (carried or kept, but the team
should look: oddities, tests kept as dbt tests, type conflicts, classifications to confirm) and
**refused** (what stops the import: packages that would be downloaded, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mesh_platform.scaffold.dbt_import.classify import Suggestion
from mesh_platform.scaffold.dbt_import.contract import GeneratedContract
from mesh_platform.scaffold.dbt_import.summary import Finding, ProjectSummary


@dataclass(frozen=True)
class ReportItem:
    subject: str  # by name: "model orders", "test unique_orders_order_id"
    detail: str = ""


@dataclass
class ImportReport:
    project: str
    carried: list[ReportItem] = field(default_factory=list)
    reported: list[ReportItem] = field(default_factory=list)
    refused: list[ReportItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was refused: the import may go ahead."""
        return not self.refused

    def add(self, finding: Finding) -> None:
        target = self.refused if finding.level == "refused" else self.reported
        target.append(ReportItem(finding.subject, finding.detail))

    def lines(self) -> list[str]:
        """Plain lines for the CLI: a heading per list, one item a line."""
        out = [f"dbt project {self.project}:"]
        for title, items in (
            ("carried over", self.carried),
            ("reported", self.reported),
            ("refused", self.refused),
        ):
            out.append(f"  {title} ({len(items)}):")
            out += [f"    - {i.subject}" + (f": {i.detail}" if i.detail else "") for i in items]
        return out

    def render(self) -> str:
        return "\n".join(self.lines()) + "\n"


def refused_report(project: str, findings: Sequence[Finding]) -> ImportReport:
    """The report of a project refused before it was read (``ImportRefused.findings``)."""
    report = ImportReport(project)
    for finding in findings:
        report.add(finding)
    return report


def build_report(
    summary: ProjectSummary,
    contracts: Sequence[GeneratedContract] = (),
    suggestions: dict[str, list[Suggestion]] | None = None,
) -> ImportReport:
    """Everything the summary holds, the ports' contracts and classification suggestions."""
    report = ImportReport(summary.name)
    carry = report.carried.append
    for model in summary.models:
        carry(ReportItem(f"model {model.name}", f"{model.path} ({model.materialized})"))
    for seed in summary.seeds:
        use = f"raw data of {', '.join(seed.read_by)}" if seed.read_by else "read by no model"
        carry(ReportItem(f"seed {seed.name}", f"{seed.path} ({use})"))
    for macro in summary.macros:
        carry(ReportItem(f"macro {macro.name}", macro.path))
    for doc in summary.docs:
        carry(ReportItem(f"docs {doc.name}", doc.path))
    for model in summary.models:
        for test in model.tests:
            carry(ReportItem(f"test {test.name}", f"{test.kind} on {model.name}"))
    for test in summary.singular_tests:
        carry(ReportItem(f"test {test.name}", f"singular, {test.path}"))
    for unit in summary.unit_tests:
        carry(ReportItem(f"unit test {unit.name}", f"of {unit.model}"))
    for package in summary.packages:
        if package.carried:
            carry(ReportItem(f"package {package.spec}", f"local ({package.file})"))
    for finding in summary.findings:
        report.add(finding)
    for contract in contracts:
        for test, check in contract.mapped.items():
            carry(ReportItem(f"check {check}", f"contract of {contract.model}, from test {test}"))
        built = [c for c, s in contract.type_sources.items() if s == "relation"]
        if built:
            report.reported.append(
                ReportItem(
                    f"contract {contract.model}",
                    f"types from the built relation (not in the YAML): {', '.join(built)}",
                )
            )
        for finding in contract.findings:
            report.add(finding)
    for model, items in (suggestions or {}).items():
        for s in items:
            if s.source == "name":
                report.reported.append(
                    ReportItem(f"column {model}.{s.column}", f"suggested pii: {s.pii} ({s.reason})")
                )
    return report

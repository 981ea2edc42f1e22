"""The one report format of every governance evaluation: lint, definition load and run time.

A finding names the policy, its severity, where it applies (domain, product, port, field —
a column or a descriptor field) and says what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

# The name of every output port's blocking governance asset check (the gate's and the catalog's).
GOVERNANCE_CHECK_NAME = "governance"


class Severity(StrEnum):
    """``error`` blocks: lint exits non-zero and the port is not published. ``warning`` informs."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    domain: str
    product: str | None
    port: str | None
    policy: str
    field: str | None
    severity: Severity
    message: str
    fix: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def where(self) -> str:
        parts = [self.domain, self.product, self.port and f"port {self.port}"]
        return " / ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity.value}

    def line(self) -> str:
        """One line for logs and error messages: severity, policy, where, field, what, fix."""
        field = f", field `{self.field}`" if self.field else ""
        return (
            f"[{self.severity.value}] {self.policy} — domain {self.domain}"
            + (f", product {self.product}" if self.product else "")
            + (f", port {self.port}" if self.port else "")
            + f"{field}: {self.message} Fix: {self.fix}"
        )


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_error]


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by domain, product, port, policy and field."""
    return sorted(
        findings,
        key=lambda f: (
            f.severity is not Severity.ERROR,
            f.domain,
            f.product or "",
            f.port or "",
            f.policy,
            f.field or "",
        ),
    )

"""Versioning policy: a breaking change needs a new major; the old major lives until deprecated.

From the governance issue: "a breaking change to a published output port (column removed or
renamed, type changed incompatibly, nullability tightened, grain changed) requires a new major
version; the previous major keeps being published until its declared deprecation date."

A *draft* product (``status: draft``) is exempt: nobody outside its domain may read it yet, so
its schema may change freely until ``mesh release`` freezes it.

Consumers in other domains cannot change in the producer's commit, so the producer must leave
what they read in place. This module compares a *baseline* (the schemas recorded when each
port version was last published, or the declaration at a git revision) with the current
*declaration*, one port version at a time, and says which comparisons violate the policy —
the one logic behind both ``mesh diff`` and the governance findings.

Policies (findings in the common :class:`~mesh_platform.governance.report.Finding` format):

- ``versioning.breaking-change-needs-major``: ``address`` v<N> is declared with a breaking
  difference from what was published as v<N>.
- ``versioning.previous-major-retired-early``: a major is published (it has a current
  snapshot) but no longer declared, while its recorded deprecation date is absent or still in
  the future — its consumers would silently stop receiving data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from mesh_platform.core.address import PortAddress
from mesh_platform.core.declared_schema import (
    PortSchema,
    declared_port_schemas,
)
from mesh_platform.core.domain import Domain, load_all_domains
from mesh_platform.core.lineage import Consumer, downstream_consumers
from mesh_platform.governance.report import Finding, Severity
from mesh_platform.governance.schema_diff import Change, diff_port_schemas
from mesh_platform.ports.records import (
    read_published_schema,
)
from mesh_platform.ports.store import list_published

BREAKING_NEEDS_MAJOR = "versioning.breaking-change-needs-major"
RETIRED_EARLY = "versioning.previous-major-retired-early"

# Status of one port version in a comparison.
UNCHANGED = "unchanged"
CHANGED = "changed"  # same major, differences found (a violation if any is breaking)
NEW_MAJOR = "new_major"  # a new major of a port the baseline knows: breaking changes allowed
NEW_PORT = "new_port"  # no baseline at all for this address
RETIRED = "retired"  # in the baseline, no longer declared, deprecation date reached
RETIRED_EARLY_STATUS = "retired_early"  # ... before its deprecation date (or without one)
NO_BASELINE_SCHEMA = "no_baseline_schema"  # published, but no schema was recorded for it

SchemaKey = tuple[str, int]


@dataclass(frozen=True)
class PortComparison:
    """One port version compared with its baseline, and whether that violates the policy."""

    address: str
    version: int
    status: str
    baseline_version: int | None = None
    changes: tuple[Change, ...] = ()
    deprecation_date: str | None = None
    consumers: tuple[Consumer, ...] = field(default=())

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def violation(self) -> bool:
        """Breaking changes inside one major, or a major retired before its deprecation date."""
        return (self.status == CHANGED and bool(self.breaking)) or (
            self.status == RETIRED_EARLY_STATUS
        )

    @property
    def domain(self) -> str:
        return PortAddress.parse(self.address).domain

    @property
    def port(self) -> str:
        return PortAddress.parse(self.address).port

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "version": self.version,
            "status": self.status,
            "baseline_version": self.baseline_version,
            "violation": self.violation,
            "deprecation_date": self.deprecation_date,
            "changes": [c.to_json() for c in self.changes],
            "consumers": [c.to_json() for c in self.consumers],
        }


def _retired(key: SchemaKey, schema: PortSchema | None, today: date) -> PortComparison:
    deprecation = schema.deprecation_date if schema else None
    early = deprecation is None or date.fromisoformat(deprecation) > today
    return PortComparison(
        address=key[0],
        version=key[1],
        status=RETIRED_EARLY_STATUS if early else RETIRED,
        baseline_version=key[1],
        deprecation_date=deprecation,
    )


def compare_declarations(
    baseline: Mapping[SchemaKey, PortSchema | None],
    declared: Mapping[SchemaKey, PortSchema],
    today: date,
) -> list[PortComparison]:
    """Compare every port version of ``declared`` and ``baseline``, sorted by address, version.

    ``baseline`` maps a port version to its schema, or to None when the version is known to be
    published but no schema was recorded for it (published before schemas were recorded).
    A new major is compared with the highest lower major of the baseline, for information.
    """
    results = []
    for key, schema in declared.items():
        address, version = key
        if key in baseline:
            old = baseline[key]
            if old is None:
                results.append(PortComparison(address, version, NO_BASELINE_SCHEMA))
                continue
            changes = tuple(diff_port_schemas(old, schema))
            status = CHANGED if changes else UNCHANGED
            results.append(
                PortComparison(address, version, status, version, changes, schema.deprecation_date)
            )
            continue
        lower = [v for (a, v) in baseline if a == address and v < version]
        previous = baseline.get((address, max(lower))) if lower else None
        if lower:
            changes = tuple(diff_port_schemas(previous, schema)) if previous else ()
            results.append(
                PortComparison(
                    address, version, NEW_MAJOR, max(lower), changes, schema.deprecation_date
                )
            )
        else:
            results.append(PortComparison(address, version, NEW_PORT))
    for key, old in baseline.items():
        if key not in declared:
            results.append(_retired(key, old, today))
    return sorted(results, key=lambda r: (r.address, r.version))


def published_baseline(ports_dir: Path) -> dict[SchemaKey, PortSchema | None]:
    """Every port version with a current snapshot in ``ports_dir``, with its recorded schema."""
    found: dict[SchemaKey, PortSchema | None] = {}
    for published in list_published(ports_dir):
        domain, port = published.address.split(".", 1)
        found[(published.address, published.version)] = read_published_schema(
            ports_dir, domain, port, published.version
        )
    return found


def with_consumers(
    comparisons: Iterable[PortComparison], manifest: Mapping[str, Any], domains: list[Domain]
) -> list[PortComparison]:
    """The comparisons, each with the downstream consumers of its port version attached."""
    return [
        PortComparison(
            c.address,
            c.version,
            c.status,
            c.baseline_version,
            c.changes,
            c.deprecation_date,
            tuple(downstream_consumers(manifest, domains, c.address, c.version)),
        )
        for c in comparisons
    ]


def _consumers_text(consumers: Iterable[Consumer]) -> str:
    labels = [c.label for c in consumers]
    return "; ".join(labels) if labels else "none found in the mesh"


def _product_of(domains: list[Domain], domain: str, port: str) -> str | None:
    for d in domains:
        if d.name != domain:
            continue
        for product in d.products:
            if any(p.name == port for p in product.output_ports):
                return product.name
    return None


def _finding(comparison: PortComparison, domains: list[Domain]) -> Finding:
    c = comparison
    product = _product_of(domains, c.domain, c.port)
    consumers = _consumers_text(c.consumers)
    if c.status == RETIRED_EARLY_STATUS:
        when = (
            f"its deprecation date {c.deprecation_date} is still in the future"
            if c.deprecation_date
            else "it was published without a deprecation date"
        )
        return Finding(
            domain=c.domain,
            product=product,
            port=f"{c.address} v{c.version}",
            policy=RETIRED_EARLY,
            field="deprecation_date",
            severity=Severity.ERROR,
            message=(
                f"{c.address} v{c.version} is published but no longer declared, and {when}; "
                f"its consumers would stop receiving data. Consumers: {consumers}."
            ),
            fix=(
                f"keep declaring {c.address} v{c.version} (its own model) in the product's "
                "`output_ports` with a `deprecation_date`, and remove it only after that date "
                "once its consumers moved to the new major"
            ),
        )
    # The same field as the run-time check of this policy: the columns, None for the grain.
    columns = sorted({ch.column for ch in c.breaking if ch.column})
    return Finding(
        domain=c.domain,
        product=product,
        port=f"{c.address} v{c.version}",
        policy=BREAKING_NEEDS_MAJOR,
        field=", ".join(columns) or None,
        severity=Severity.ERROR,
        message=(
            f"{c.address} v{c.version} is declared with breaking changes from what was "
            f"published as v{c.version}: "
            + "; ".join(ch.summary() for ch in c.breaking)
            + f". Consumers: {consumers}."
        ),
        fix=(
            f"publish the change as v{c.version + 1}: a new `output_ports` entry with "
            f"`version: {c.version + 1}` and its own dbt model, and keep v{c.version} (its "
            "current model) declared with a `deprecation_date` so its consumers can migrate"
        ),
    )


def draft_addresses(domains: Iterable[Domain]) -> set[str]:
    """Addresses of the ports of draft products: their schema is not frozen until released."""
    return {
        product.address(port)
        for domain in domains
        for product in domain.products
        if product.is_draft
        for port in product.output_ports
    }


def versioning_findings(
    repo_root: Path,
    ports_dir: Path,
    today: date,
    manifest: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Findings of the versioning policies for the mesh under ``repo_root``.

    Compares the declaration with what is published in ``ports_dir``; nothing published (no
    ``ports_dir``) means nothing to break, so no findings. ``manifest`` (for the consumers
    named in messages) defaults to the repository's dbt manifest, loaded only when a finding
    needs it.
    """
    baseline = published_baseline(ports_dir)
    if not baseline:
        return []
    declared = declared_port_schemas(repo_root)
    violations = [c for c in compare_declarations(baseline, declared, today) if c.violation]
    if not violations:
        return []
    domains = load_all_domains(repo_root / "domains")
    drafts = draft_addresses(domains)
    violations = [c for c in violations if c.address not in drafts]
    if not violations:
        return []
    if manifest is None:
        from mesh_platform.core.manifest import mesh_manifest_at

        manifest = mesh_manifest_at(repo_root)
    return [_finding(c, domains) for c in with_consumers(violations, manifest, domains)]

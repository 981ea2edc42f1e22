"""Before a domain's step builds anything: hold back the models whose operational sources
changed shape (see :mod:`mesh_platform.core.source_schema`).

Each source read by a model of the step is checked once. The models built from a drifted
source (directly or through the domain's other models) are excluded from the step's dbt build,
so their tables stay as they were and their ports are not published; the domain's other models
build and publish as usual. The step then fails with a message per held-back port naming
domain, product, port, source, column and what changed, and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.manifest import in_domain_ancestors
from mesh_platform.core.source_schema import (
    ALLOW_NEW_COLUMNS,
    DRIFT_META,
    SourceDrift,
    check_source,
)

CHECK_LABEL = "source schema"


@dataclass
class StepDrift:
    drifted: dict[str, SourceDrift] = field(default_factory=dict)  # source uid -> drift
    reads: dict[str, set[str]] = field(default_factory=dict)  # held-back model uid -> sources

    @property
    def models(self) -> frozenset[str]:
        return frozenset(self.reads)


def sources_read(manifest: Mapping, uid: str) -> set[str]:
    """The sources ``uid`` is built from, directly or through the domain's other models."""
    nodes = manifest["nodes"]
    return {
        parent
        for model in {uid, *in_domain_ancestors(manifest, uid)}
        for parent in nodes[model].get("depends_on", {}).get("nodes", [])
        if parent.startswith("source.")
    }


def source_drift(env: MeshEnvironment, bindings: DomainBindings, selected: set[str]) -> StepDrift:
    manifest = bindings.manifest
    project_dir = env.domain_dbt_dir(bindings.domain.name)
    reads = {uid: sources_read(manifest, uid) for uid in selected}
    checked: dict[str, SourceDrift | None] = {}
    for source_uid in sorted(set().union(*reads.values()) if reads else set()):
        source = manifest["sources"].get(source_uid)
        if source is not None:
            checked[source_uid] = check_source(env, project_dir, source_uid, source)
    result = StepDrift({uid: d for uid, d in checked.items() if d is not None and d.drifted})
    for uid, sources in reads.items():
        hit = sources & set(result.drifted)
        if hit:
            result.reads[uid] = hit
    return result


def drift_failures(bindings: DomainBindings, drift: StepDrift) -> list[str]:
    """One message per output port the drift holds back; one naming the models if no port is
    (a run of a domain's internal models only must not pass with nothing built)."""
    messages = []
    for uid, binding in sorted(bindings.ports.items()):
        if uid not in drift.reads:
            continue
        product = binding.product
        drifts = [drift.drifted[s] for s in sorted(drift.reads[uid])]
        messages.append(
            "\n".join(
                [
                    f"domain {product.domain}, product {product.name}: output port "
                    f"{binding.address} v{binding.port.version} failed its {CHECK_LABEL} check — "
                    + ", ".join(f"source {d.source}" for d in drifts)
                    + " no longer has the columns it declares — so it was NOT published "
                    "(nothing was built from it); consumers keep reading the previous snapshot.",
                    *_what_changed(drifts),
                ]
            )
        )
    if drift.reads and not messages:
        nodes = bindings.manifest["nodes"]
        names = sorted(nodes[uid]["name"] for uid in drift.reads)
        drifts = [drift.drifted[s] for s in sorted(set().union(*drift.reads.values()))]
        plural = len(names) > 1
        messages.append(
            "\n".join(
                [
                    f"domain {bindings.domain.name}: model{'s' if plural else ''} "
                    f"{', '.join(names)} {'were' if plural else 'was'} NOT built: "
                    + ", ".join(f"source {d.source}" for d in drifts)
                    + " no longer has the columns it declares.",
                    *_what_changed(drifts),
                ]
            )
        )
    return messages


def _what_changed(drifts: list[SourceDrift]) -> list[str]:
    """Each drifted column, then what to do about each source."""
    lines = [f"  - {line}" for d in drifts for line in d.lines()]
    for d in drifts:
        system = d.source.split(".", 1)[0]
        lines.append(
            f"  If the change is intended, update the columns of {d.source} in "
            f"{d.declared_in} (and the staging model that reads it; new columns can be "
            f"accepted with `config: {{meta: {{{DRIFT_META}: {ALLOW_NEW_COLUMNS}}}}}`); "
            f"otherwise fix the export of {system}. Then rerun."
        )
    return lines

"""Before a domain's step builds anything: hold back the models that read an upstream port
nobody has published yet.

A consumer built before its producer ever ran (a code location materialized alone, a schedule
firing before the producer's first run, ``mesh materialize <consumer>`` on a fresh data dir)
would otherwise fail in dbt with DuckDB's "No files found that match the pattern …", which
does not say what to do. As with source drift (:mod:`mesh_platform.build.source_drift`), the
models built from such a port (directly or through the domain's other models) are excluded
from the step's dbt build, the domain's other models build and publish as usual, and the step
fails with one message per held-back output port naming the port it waits for and what to do:
materialize the producer first or, when the producer publishes another major version only,
move the source to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.build.source_drift import sources_read
from mesh_platform.core.address import PortAddress
from mesh_platform.core.bindings import DomainBindings
from mesh_platform.ports.location import PortStore
from mesh_platform.ports.store import PublishedPort, list_published


@dataclass(frozen=True, order=True)
class MissingPort:
    """An upstream port version a source reads that has no current snapshot."""

    address: PortAddress
    major: int
    published: tuple[int, ...] = ()  # the majors of the port its producer does publish

    @property
    def producer(self) -> str:
        return self.address.domain

    def __str__(self) -> str:
        return self.address.versioned(self.major)

    def other_major(self) -> str:
        """Why it is missing when the producer publishes other majors, and what to do."""
        majors = ", ".join(f"v{m}" for m in self.published)
        return (
            f"{self}, which is not published ({self.producer} publishes {majors} only: move "
            f"the source to v{max(self.published)} or ask {self.producer} to keep v{self.major})"
        )


@dataclass
class StepUnpublished:
    missing: dict[str, MissingPort] = field(default_factory=dict)  # source uid -> its port
    reads: dict[str, set[str]] = field(default_factory=dict)  # held-back model uid -> sources

    @property
    def models(self) -> frozenset[str]:
        return frozenset(self.reads)


def missing_ports(
    ports_dir: Path | PortStore, upstream: Mapping[tuple[str, int], PublishedPort | None]
) -> list[MissingPort]:
    """The ports of ``upstream`` (as :func:`~mesh_platform.ports.changes.resolve_upstream`
    resolved them) that have no snapshot, each with the majors its producer publishes."""
    absent = sorted(key for key, published in upstream.items() if published is None)
    if not absent:
        return []
    majors: dict[str, list[int]] = {}
    for published in list_published(ports_dir):
        majors.setdefault(published.address, []).append(published.version)
    return [
        MissingPort(PortAddress.parse(address), major, tuple(sorted(majors.get(address, []))))
        for address, major in absent
    ]


def unpublished_inputs(
    bindings: DomainBindings, selected: set[str], missing: list[MissingPort]
) -> StepUnpublished:
    """The models of ``selected`` built from a ``missing`` port, and the sources they read."""
    by_key = {(str(m.address), m.major): m for m in missing}
    result = StepUnpublished()
    for source_uid, upstream in bindings.upstream.items():
        port = by_key.get((str(upstream.address), upstream.major))
        if port is not None:
            result.missing[source_uid] = port
    if not result.missing:
        return result
    for uid in sorted(selected):
        hit = sources_read(bindings.manifest, uid) & set(result.missing)
        if hit:
            result.reads[uid] = hit
    return result


def unpublished_failures(bindings: DomainBindings, unpublished: StepUnpublished) -> list[str]:
    """One message per output port held back; one naming the models if no port is."""
    messages = []
    for uid, binding in sorted(bindings.ports.items()):
        if uid in unpublished.reads:
            product = binding.product
            messages.append(
                f"domain {product.domain}, product {product.name}: output port "
                f"{binding.address} v{binding.port.version} was NOT built or published: "
                + _reads(_ports(unpublished, {uid}))
            )
    if unpublished.reads and not messages:
        nodes = bindings.manifest["nodes"]
        names = sorted(nodes[uid]["name"] for uid in unpublished.reads)
        plural = len(names) > 1
        messages.append(
            f"domain {bindings.domain.name}: model{'s' if plural else ''} {_join(names)} "
            f"{'were' if plural else 'was'} NOT built: "
            + _reads(_ports(unpublished, set(unpublished.reads)), "they" if plural else "it")
        )
    return messages


def _ports(unpublished: StepUnpublished, models: set[str]) -> list[MissingPort]:
    return sorted({unpublished.missing[s] for uid in models for s in unpublished.reads[uid]})


def _reads(ports: list[MissingPort], subject: str = "it") -> str:
    """What the held-back models read that is missing, and what to do about it."""
    never = [p for p in ports if not p.published]
    parts = [p.other_major() for p in ports if p.published]
    if never:
        verb = "has" if len(never) == 1 else "have"
        parts.insert(0, f"{_join([str(p) for p in never])}, which {verb} never been published")
    text = f"{subject} read{'s' if subject == 'it' else ''} " + ", and ".join(parts) + "."
    if not never:
        return text + " Then rerun."
    producers = sorted({p.producer for p in never})
    where = "its code location" if len(producers) == 1 else "their code locations"
    return (
        f"{text} Materialize {_join(producers)} first (`mesh materialize "
        f"{' '.join(producers)}`, or {where} in Dagster), then rerun."
    )


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"

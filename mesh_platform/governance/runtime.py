"""Data-level governance checks, run on the built table before a port is published.

Static policies look at declarations; these look at the data the declarations are about:
values declared hashed or masked really are, no unclassified column carries e-mail or IP
addresses, shared keys have the glossary's format, and the port's declared schema is not a
breaking change against what is published under the same major version.

Cost is bounded: the declared treatments are verified on every row (one pass over only those
columns), the content and key-format scans read a block sample of at most
``value_scan_sample_rows`` rows, and a run of a daily port looks only at the days it built
(``row_filter``, the same rows its contract verifies), so governance does not grow with the
port's history.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mesh_platform.core.declared_schema import (
    normalize_type,
)
from mesh_platform.core.sql import quote_ident, quote_literal
from mesh_platform.governance.context import MeshContext, PortSubject
from mesh_platform.governance.report import Finding
from mesh_platform.governance.rules.classification import pii_of

TEXT_TYPES = {"varchar", "char", "text", "string"}


def data_findings(
    ctx: MeshContext,
    subject: PortSubject,
    connection: Any,
    relation: str,
    row_filter: str | None = None,
) -> list[Finding]:
    """``row_filter`` (SQL) limits the checks to the rows a run built (the days of a daily
    port); the other days were checked when they were built."""
    import duckdb

    try:
        rows = _rows_checked(connection, relation, row_filter)
        return [
            *_treatments(ctx, subject, connection, rows),
            *_sampled(ctx, subject, connection, rows),
        ]
    except duckdb.Error as exc:
        return [
            ctx.port_finding(
                "structure.valid",
                subject,
                None,
                f"the data-level governance checks could not read {relation}: {exc}",
                f"make model {subject.port.model} match its YAML in {subject.model_file} "
                "(an enforced contract guarantees it).",
            )
        ]


def _rows_checked(connection: Any, relation: str, row_filter: str | None) -> str:
    """The relation, or the subquery of the rows ``row_filter`` selects when it leaves some
    out. A filter that selects every row (a full build of all days) is dropped: on the bare
    table DuckDB pushes the block sample into the scan, under a filter it reads every row."""
    if not row_filter:
        return relation
    selected, total = connection.execute(
        f"select count(*) filter (where {row_filter}), count(*) from {relation}"
    ).fetchone()
    return relation if selected == total else f"(select * from {relation} where {row_filter})"


def _treatments(
    ctx: MeshContext, subject: PortSubject, connection: Any, relation: str
) -> Iterator[Finding]:
    treatments = ctx.config.personal_data.treatments
    checks: list[tuple[str, str, str]] = []
    for name, column in subject.columns.items():
        pii = pii_of(column)
        if isinstance(pii, dict) and pii.get("treatment") in treatments:
            regex = treatments[pii["treatment"]].value_regex
            if regex:
                checks.append((name, pii["treatment"], regex))
    if not checks:
        return
    select = ", ".join(
        f"count(*) filter (where {quote_ident(c)} is not null and not "
        f"regexp_full_match(cast({quote_ident(c)} as varchar), {quote_literal(r)}))"
        for c, _, r in checks
    )
    counts = connection.execute(f"select {select} from {relation}").fetchone()
    for (name, treatment, regex), bad in zip(checks, counts, strict=True):
        if bad:
            yield ctx.port_finding(
                "classification.treatment-verified",
                subject,
                name,
                f"column `{name}` is declared {treatment} but {bad:,} value(s) do not look "
                f"{treatment} (expected {regex}); the data may expose personal data.",
                f"apply {treatments[treatment].how} to `{name}` in model {subject.port.model}.",
            )


def _sample_clause(connection: Any, relation: str, limit: int) -> str:
    rows = connection.execute(f"select count(*) from {relation}").fetchone()[0]
    if rows <= limit:
        return ""
    # system sampling picks whole 2,048-row vectors: ask for at least ~16 of them
    percent = min(100.0, max(100.0 * limit / rows, 100.0 * 16 * 2048 / rows))
    return f" using sample {percent:.4f}% (system)"


def _sampled(
    ctx: MeshContext, subject: PortSubject, connection: Any, relation: str
) -> Iterator[Finding]:
    personal = ctx.config.personal_data
    keys = ctx.config.shared_keys
    probes: list[tuple[str, str, str, str]] = []  # (policy, column, what, sql)
    for name, column in subject.columns.items():
        data_type = normalize_type(column.get("data_type") or "")
        if data_type in TEXT_TYPES and pii_of(column) in (None, False):
            for what, regex in personal.value_patterns.items():
                probes.append(
                    (
                        "classification.personal-data-in-values",
                        name,
                        what,
                        f"count(*) filter (where regexp_matches({quote_ident(name)}, {quote_literal(regex)}))",
                    )
                )
        key = keys.key_for(name)
        key_format = key and keys.keys[key].format
        if key_format:
            probes.append(
                (
                    "interoperability.shared-key-format",
                    name,
                    key,
                    f"count(*) filter (where {quote_ident(name)} is not null and not "
                    f"regexp_full_match(cast({quote_ident(name)} as varchar), {quote_literal(key_format)}))",
                )
            )
    if not probes:
        return
    sample = _sample_clause(connection, relation, personal.value_scan_sample_rows)
    columns = ", ".join(sorted({quote_ident(c) for _, c, _, _ in probes}))
    # of a subquery (rows filtered), the sample is taken of the rows it selects
    counts = connection.execute(
        f"select {', '.join(p[3] for p in probes)} from (select {columns} from {relation}{sample})"
    ).fetchone()
    for (policy, name, what, _), bad in zip(probes, counts, strict=True):
        if not bad:
            continue
        if policy == "classification.personal-data-in-values":
            yield ctx.port_finding(
                policy,
                subject,
                name,
                f"{bad:,} sampled value(s) of column `{name}` look like personal data ({what}), "
                "but the column is not classified as personal data.",
                f"hash or mask `{name}` in model {subject.port.model} ({{{{ mesh.hash(...) }}}}), "
                f"or classify it with `pii:` in {subject.model_file}.",
            )
        else:
            key = keys.keys[what]
            yield ctx.port_finding(
                policy,
                subject,
                name,
                f"{bad:,} sampled value(s) of column `{name}` do not have the format of shared "
                f"key `{what}` ({key.format}).",
                f"produce `{name}` in the glossary's format (governance/shared_keys.yaml) in "
                f"model {subject.port.model}.",
            )


def versioning_at_publish(
    ctx: MeshContext, subject: PortSubject, repo_root: Path, ports_dir: Path
) -> list[Finding]:
    """A breaking change against the schema published under the same major blocks publishing —
    unless the product is a draft, whose schema is not frozen until it is released."""
    if subject.product.is_draft:
        return []
    from mesh_platform.core.declared_schema import (
        declared_port_schema,
    )
    from mesh_platform.governance.schema_diff import breaking_changes, diff_port_schemas
    from mesh_platform.ports.records import (
        read_published_schema,
    )

    published = read_published_schema(
        ports_dir, subject.domain.name, subject.port.name, subject.port.version
    )
    if published is None:
        return []
    declared = declared_port_schema(repo_root, subject.product, subject.port)
    breaking = breaking_changes(diff_port_schemas(published, declared))
    if not breaking:
        return []
    changes = "; ".join(c.summary() for c in breaking)
    return [
        ctx.port_finding(
            "versioning.breaking-change-needs-major",
            subject,
            ", ".join(sorted({c.column for c in breaking if c.column})) or None,
            f"breaking change(s) against the published v{subject.port.version}: {changes}. "
            "Consumers of this major would break.",
            f"publish it as v{subject.port.version + 1} (a new output-port entry with its own "
            f"model) and keep v{subject.port.version} with a `deprecation_date`; see `mesh diff "
            f"{subject.address}`.",
        )
    ]

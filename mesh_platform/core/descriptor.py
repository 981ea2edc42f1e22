"""Data-product descriptors: the declarative YAML a domain team writes for each product.

A descriptor is data validated by a schema, so a typo fails when the code location loads, with
the file, the field and the reason named — never later, in the middle of a run.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mesh_platform.core import yaml_io

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
ADDRESS_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
CRON_FIELDS = 5
MIN_CAVEAT, MAX_CAVEAT = 15, 300


class DescriptorError(ValueError):
    """A descriptor file is invalid; the message names the file, the field and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(StrEnum):
    SOURCE_ALIGNED = "source-aligned"
    AGGREGATE = "aggregate"
    CONSUMER_ALIGNED = "consumer-aligned"


class Classification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Owner(_Strict):
    team: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    contact: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class OperationalInput(_Strict):
    """An input read from one of the domain's operational systems (a dbt source), or raw data
    the domain's dbt project ships as a seed (``kind: seed``, ``source: seeds.<seed name>``)."""

    kind: Literal["database", "event_stream", "file_drop", "api", "seed"]
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
    description: str = ""


class PortInput(_Strict):
    """An input read from another product's published output port, addressed domain.port."""

    kind: Literal["output_port"]
    port: Annotated[str, Field(pattern=ADDRESS_PATTERN)]
    description: str = ""


InputPort = Annotated[OperationalInput | PortInput, Field(discriminator="kind")]


class BadRows(_Strict):
    """What to do with rows that fail a row-level check of the port's contract.

    ``block`` (the default): any bad row blocks the whole publish. ``reject``: bad rows are moved
    to the port's rejects table, with the column and check that rejected each, and the good rows
    are published, as long as the rejected share of the rows stays at most ``max_share``.
    """

    policy: Literal["block", "reject"] = "block"
    max_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    # where the rejected rows' raw text is (kept with them for the owners, never published)
    raw_text: RawText | None = None


class RawText(_Strict):
    """The raw text each built row came from, kept with the rejected rows for the owners.

    ``model``: a dbt model of the domain (typically the staging view of the source) with the
    port's columns, holding exactly the values the port's model writes, and ``column``: the
    raw text of the row, bounded (e.g. the first 1,000 characters of the line). A rejected row
    gets the raw text of a row of ``model`` equal to it in every port column (rows equal in
    every column are told apart by none, so any of them is the one)."""

    model: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]
    column: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")] = "raw_line"


class OutputPort(_Strict):
    """A published, versioned dataset of a product, addressed ``<domain>.<name>`` v<version>.

    Two entries may share a name with different major versions: the previous major keeps being
    published (from its own model) until its ``deprecation_date``.
    """

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    model: Annotated[str, Field(pattern=NAME_PATTERN)]
    version: Annotated[int, Field(ge=1)]
    contract: str
    description: str = ""
    kind: Literal["snapshot", "change_feed"] = "snapshot"
    # Defaults to the product's owner; a port may name its own steward.
    owner: Owner | None = None
    # A query over the published port (`<domain>.<name>`) showing consumers how to use it.
    example: str | None = None
    # Governance may allow a port to carry raw personal data (policy `classification`), only
    # when the product is `restricted`; access to it is then enforced by grants.
    carries_pii: bool = False
    deprecation_date: date | None = None
    # Partial publishing is an opt-in: without it a single bad row blocks the publish.
    bad_rows: BadRows | None = None

    @property
    def rejects_bad_rows(self) -> bool:
        return self.bad_rows is not None and self.bad_rows.policy == "reject"


class Slo(_Strict):
    freshness_hours: Annotated[float, Field(gt=0)]


class Automation(_Strict):
    """How the product is kept fresh: on a cron schedule, or eagerly when its inputs update."""

    kind: Literal["schedule", "eager"]
    cron: str | None = None

    @model_validator(mode="after")
    def _cron_matches_kind(self) -> Automation:
        if self.kind == "schedule":
            if not self.cron or len(self.cron.split()) != CRON_FIELDS:
                raise ValueError("a schedule needs `cron` with five fields, e.g. '0 4 * * *'")
        elif self.cron:
            raise ValueError("`cron` is only allowed when kind is 'schedule'")
        return self


class Partitioning(_Strict):
    kind: Literal["daily"]
    start: date
    # The model's DATE column holding the day. When named, the product's ports are verified
    # and published per day: a run for one day checks and writes that day only (see ports.py).
    column: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None


class DataProduct(_Strict):
    """One data product. Structure is checked here (a typo fails at load); completeness —
    owner, description, SLO, docs — is a governance policy, so a product missing them still
    loads and shows in the UI, with its governance check failing and nothing published."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    domain: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str = ""
    owner: Owner | None = None
    tier: Tier
    classification: Classification
    tags: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]] = []
    input_ports: Annotated[list[InputPort], Field(min_length=1)]
    output_ports: Annotated[list[OutputPort], Field(min_length=1)]
    slo: Slo | None = None
    automation: Automation
    partitioning: Partitioning | None = None
    # A draft may change its schema freely (no versioning policy, no frozen published schema)
    # and no other domain may read it; `mesh release DOMAIN.PRODUCT` makes it `released`, which
    # freezes its majors. Absent means released, so descriptors written before drafts existed
    # keep their guarantees; `mesh new product` writes `status: draft`.
    status: Literal["draft", "released"] = "released"
    # Usage caveats a consumer must know before using the data (e.g. "keeps only the top 50 per
    # country: do not re-aggregate across countries"): shown in the catalog, the portal and
    # Dagster, and printed by `mesh query` when a query reads the product.
    caveats: list[str] = []

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @field_validator("output_ports")
    @classmethod
    def _unique_port_versions(cls, ports: list[OutputPort]) -> list[OutputPort]:
        names = [f"{p.name} v{p.version}" for p in ports]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"output port name and version must be unique, repeated: {dupes}")
        return ports

    @field_validator("caveats")
    @classmethod
    def _readable_caveats(cls, caveats: list[str]) -> list[str]:
        cleaned = [" ".join(str(c).split()) for c in caveats]
        for index, text in enumerate(cleaned):
            if len(text) < MIN_CAVEAT:
                raise ValueError(
                    f"caveat {index + 1} ({text!r}) is too short: say in a sentence of at least "
                    f"{MIN_CAVEAT} characters what a consumer must not do with the data, and why"
                )
            if len(text) > MAX_CAVEAT:
                raise ValueError(
                    f"caveat {index + 1} is {len(text)} characters long: keep each under "
                    f"{MAX_CAVEAT} (put the details in the product's description)"
                )
        dupes = sorted({c for c in cleaned if cleaned.count(c) > 1})
        if dupes:
            raise ValueError(f"caveats must not repeat, repeated: {dupes}")
        return cleaned

    def port_owner(self, port: OutputPort) -> Owner | None:
        return port.owner or self.owner

    def address(self, port: OutputPort) -> str:
        return f"{self.domain}.{port.name}"

    @model_validator(mode="after")
    def _eager_needs_an_upstream_port(self) -> DataProduct:
        # Eager automation reacts to upstream materializations; operational systems never
        # materialize, so a product fed only by them would never refresh.
        if self.automation.kind == "eager" and not self.upstream_ports:
            raise ValueError(
                "`automation.kind: eager` reacts to upstream output ports, but every input "
                "is an operational system; use `kind: schedule` with a `cron`"
            )
        return self

    @property
    def upstream_ports(self) -> list[str]:
        return [i.port for i in self.input_ports if isinstance(i, PortInput)]


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"invalid data-product descriptor {path}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  - field `{field}`: {e['msg']}")
    lines.append("Fix the descriptor (see an existing product under domains/ for the shape).")
    return "\n".join(lines)


def load_descriptor(path: Path, expected_domain: str | None = None) -> DataProduct:
    """Read and validate one descriptor; raise :class:`DescriptorError` naming file and field."""
    try:
        raw = yaml_io.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DescriptorError(f"descriptor {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise DescriptorError(f"descriptor {path} must be a YAML mapping of fields")
    try:
        product = DataProduct.model_validate(raw)
    except ValidationError as exc:
        raise DescriptorError(_format_validation_error(path, exc)) from None
    if expected_domain and product.domain != expected_domain:
        raise DescriptorError(
            f"descriptor {path}: field `domain` is {product.domain!r} but the file lives in "
            f"domain {expected_domain!r}; move the file or fix the field"
        )
    if path.stem != product.name:
        raise DescriptorError(
            f"descriptor {path}: field `name` is {product.name!r}; name the file "
            f"{product.name}.yaml so products are found by name"
        )
    return product


def load_domain_descriptors(domain_dir: Path) -> list[DataProduct]:
    """All products of one domain, sorted by name; every output-port name unique in the domain."""
    domain = domain_dir.name
    products = [
        load_descriptor(p, expected_domain=domain)
        for p in sorted((domain_dir / "products").glob("*.yaml"))
    ]
    seen: dict[str, str] = {}
    for product in products:
        for port in {p.name for p in product.output_ports}:
            if port in seen:
                raise DescriptorError(
                    f"domain {domain}: output port {port!r} is declared by both "
                    f"{seen[port]!r} and {product.name!r}; port names are addresses and "
                    "must be unique within a domain"
                )
            seen[port] = product.name
    return products

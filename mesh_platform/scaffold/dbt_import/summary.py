"""What an imported dbt project holds, as plain typed records.

The reader fills these from dbt's own parse (the manifest), so every later step — contracts,
classification, the report, the glue that copies files into the mesh — works on one typed view
instead of re-reading dbt's JSON. Paths are relative to the project's root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TestInfo:
    """One data test: a generic test on a model/column, or a singular test (``tests/*.sql``)."""

    name: str  # dbt's test name, e.g. unique_orders_order_id
    kind: str  # the generic test's name (not_null, relationships, …) or "singular"
    column: str | None
    arguments: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    namespace: str | None = None  # a package's generic test (dbt_utils.…), None for built-ins
    severity: str = "error"
    where: str | None = None
    path: str = ""  # the YAML (generic) or SQL (singular) file
    refers_to: str | None = None  # relationships: the model/seed/source it references


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str | None  # as the YAML declares it (`data_type:`), None if it does not
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    constraints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str  # the SQL (or Python) file
    materialized: str
    schema: str  # as dbt resolves it with the project's own generate_schema_name
    description: str
    columns: tuple[ColumnInfo, ...]
    tests: tuple[TestInfo, ...]
    depends_on: tuple[str, ...]  # names of the models, seeds and sources (source.table) it reads
    language: str = "sql"
    alias: str = ""  # the relation's name when it is not the model's
    contract_enforced: bool = False
    # Column name -> DuckDB type of the relation as built in the throwaway database; empty when
    # the project was not built (see reader.read_project(build=...)).
    relation_types: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class SeedInfo:
    name: str
    path: str
    read_by: tuple[str, ...]  # the models that ref() it: a seed used as raw data if not empty


@dataclass(frozen=True)
class SourceInfo:
    name: str  # the source's name (`source('<name>', …)`)
    tables: tuple[str, ...]
    path: str
    read_by: tuple[str, ...]  # models reading any of its tables


@dataclass(frozen=True)
class MacroInfo:
    name: str
    path: str
    overrides_builtin: bool  # a project macro with the name of one of dbt's (generate_schema_name)
    is_generic_test: bool = False  # a `{% test %}` block


@dataclass(frozen=True)
class DocsInfo:
    name: str
    path: str


@dataclass(frozen=True)
class UnitTestInfo:
    name: str
    model: str
    path: str


@dataclass(frozen=True)
class PackageEntry:
    """One entry of packages.yml / dependencies.yml, as written."""

    kind: str  # local | hub | git | tarball | private | project (a dbt Mesh cross-project dep)
    spec: str  # what names it: the local path, the hub name, the git URL, …
    file: str  # packages.yml or dependencies.yml

    @property
    def carried(self) -> bool:
        """Only a local package can come along (if inside the project): anything else downloads."""
        return self.kind == "local"


@dataclass(frozen=True)
class Finding:
    """Something the import noticed: ``refused`` stops the import, ``reported`` does not."""

    level: str  # "refused" | "reported"
    subject: str  # what it is about, by name: "package dbt-labs/dbt_utils", "snapshot orders_snap"
    detail: str


@dataclass
class ProjectSummary:
    name: str  # the project's `name:`
    profile: str | None
    dbt_version: str  # the dbt that parsed it
    models: tuple[ModelInfo, ...] = ()
    seeds: tuple[SeedInfo, ...] = ()
    sources: tuple[SourceInfo, ...] = ()
    macros: tuple[MacroInfo, ...] = ()
    docs: tuple[DocsInfo, ...] = ()
    singular_tests: tuple[TestInfo, ...] = ()
    unit_tests: tuple[UnitTestInfo, ...] = ()
    packages: tuple[PackageEntry, ...] = ()
    findings: list[Finding] = field(default_factory=list)
    built: bool = False  # True when relation types come from a build in a throwaway DuckDB

    def model(self, name: str) -> ModelInfo:
        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(sorted(m.name for m in self.models)) or "none"
        raise KeyError(f"no model {name!r} in dbt project {self.name} (models: {known})")

    @property
    def raw_inputs(self) -> tuple[str, ...]:
        """The data the project starts from: seeds read by models, and declared source tables."""
        seeds = [s.name for s in self.seeds if s.read_by]
        tables = [f"{s.name}.{t}" for s in self.sources for t in s.tables]
        return (*seeds, *tables)

"""The declared schema of an output port: columns, types, nullability and grain.

Versioning governance compares what a port *declares now* with what it *declared when it was
published* (or at a git revision). Both sides must be read the same way and cheaply, so the
declared schema comes from files only — the port's dbt model YAML and its Soda contract — never
from a dbt parse or a database: that is what lets ``mesh diff --against REV`` read an old
revision straight out of ``git archive``, and the publish step record the schema it published.

- **Columns** come from the dbt model YAML (the model contract dbt enforces at build time), in
  declared order. ``nullable`` means "no ``not_null`` constraint" (a ``primary_key`` constraint
  counts as not null too): the build-time constraint is the only guarantee consumers get.
- **Types** are normalised so that spelling is not a change: lowercase, single spaces, and a
  small alias table (below) collapsing DuckDB's synonyms — ``int4`` is ``integer``, ``text`` is
  ``varchar``, ``float8`` is ``double``. Nothing else is rewritten: a real change stays visible.
- **Grain** is the set of key columns: those with a Soda ``duplicate`` check (per column, or
  the columns of a dataset-level ``duplicate`` check) and those with a dbt ``primary_key`` or
  ``unique`` constraint. Several single-column keys and one composite key both flatten to a
  tuple of columns in declared order; a change of that set is a change of grain.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mesh_platform.core import yaml_io
from mesh_platform.core.address import PortAddress
from mesh_platform.core.contracts import contract_keys, read_contract_document
from mesh_platform.core.descriptor import DataProduct, DescriptorError, OutputPort
from mesh_platform.core.domain import load_all_domains

# DuckDB's synonyms, collapsed to one spelling each. Kept deliberately small: anything not
# listed is compared as written (lowercased), so an unknown type can only cause a reported
# change, never hide one.
TYPE_ALIASES = {
    "int1": "tinyint",
    "int2": "smallint",
    "short": "smallint",
    "int4": "integer",
    "int": "integer",
    "signed": "integer",
    "int8": "bigint",
    "long": "bigint",
    "int16": "hugeint",
    "float4": "float",
    "real": "float",
    "float8": "double",
    "double precision": "double",
    "string": "varchar",
    "text": "varchar",
    "char": "varchar",
    "bpchar": "varchar",
    "bool": "boolean",
    "logical": "boolean",
    "numeric": "decimal",
    "datetime": "timestamp",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
}
# DuckDB's default precision and scale for a bare DECIMAL, made explicit so that `decimal`
# and `decimal(18,3)` compare equal.
DEFAULT_DECIMAL = "decimal(18,3)"
_PARAMETERS = re.compile(r"^(?P<base>[a-z][a-z ]*?)\s*\((?P<args>[^)]*)\)$")
_KEY_CONSTRAINTS = {"primary_key", "unique"}
_NOT_NULL_CONSTRAINTS = {"not_null", "primary_key"}


class PortSchemaError(DescriptorError):
    """A port's declared schema cannot be read; the message names the port and the file."""


def normalize_type(data_type: str) -> str:
    """One spelling per type: lowercase, aliases collapsed, DuckDB's ignored lengths dropped."""
    text = " ".join(str(data_type).strip().lower().split())
    match = _PARAMETERS.match(text)
    base, args = (match["base"], match["args"]) if match else (text, None)
    base = TYPE_ALIASES.get(base, base)
    if base == "varchar":  # DuckDB ignores a varchar length; so does the comparison
        return "varchar"
    if args is None:
        return DEFAULT_DECIMAL if base == "decimal" else base
    return f"{base}({','.join(a.strip() for a in args.split(','))})"


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    data_type: str
    nullable: bool
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "data_type": self.data_type,
            "nullable": self.nullable,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ColumnSchema:
        return cls(
            name=raw["name"],
            data_type=raw["data_type"],
            nullable=bool(raw["nullable"]),
            description=raw.get("description") or "",
        )


@dataclass(frozen=True)
class PortSchema:
    """The declared schema of one major version of an output port (``address`` v``version``)."""

    address: str
    version: int
    columns: tuple[ColumnSchema, ...]
    grain: tuple[str, ...]
    deprecation_date: str | None = None

    @property
    def domain(self) -> str:
        return PortAddress.parse(self.address).domain

    @property
    def port(self) -> str:
        return PortAddress.parse(self.address).port

    def column(self, name: str) -> ColumnSchema | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "version": self.version,
            "columns": [c.to_json() for c in self.columns],
            "grain": list(self.grain),
            "deprecation_date": self.deprecation_date,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PortSchema:
        return cls(
            address=raw["address"],
            version=int(raw["version"]),
            columns=tuple(ColumnSchema.from_json(c) for c in raw["columns"]),
            grain=tuple(raw.get("grain") or ()),
            deprecation_date=raw.get("deprecation_date"),
        )


# --- reading the declaration -------------------------------------------------------------


def _read_yaml(path: Path) -> Any:
    try:
        return yaml_io.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PortSchemaError(f"{path} is not valid YAML: {exc}") from exc


def domain_models_dir(repo_root: Path, domain: str) -> Path:
    """The models folder of a domain's dbt project (``dbt_project/<domain>/models``).

    A git revision from before domains had a dbt project each keeps them under
    ``dbt_project/models/<domain>``; comparing against such a revision reads them there.
    """
    folder = repo_root / "dbt_project" / domain / "models"
    before = repo_root / "dbt_project" / "models" / domain
    return before if not folder.exists() and before.exists() else folder


def model_entries(models_dir: Path) -> dict[str, tuple[Path, Mapping[str, Any]]]:
    """Every ``models:`` entry of the YAML files under one domain's dbt folder, by name."""
    found: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    for path in sorted([*models_dir.rglob("*.yml"), *models_dir.rglob("*.yaml")]):
        raw = _read_yaml(path)
        if not isinstance(raw, dict):
            continue
        for entry in raw.get("models") or []:
            if isinstance(entry, dict) and entry.get("name"):
                found.setdefault(entry["name"], (path, entry))
    return found


def _constraint_types(entry: Mapping[str, Any]) -> set[str]:
    return {
        str(c.get("type", "")).lower()
        for c in entry.get("constraints") or []
        if isinstance(c, dict)
    }


def _contract_keys(contract_path: Path) -> set[str]:
    """Columns a Soda contract declares unique (``duplicate`` checks); none if no contract."""
    if not contract_path.exists():
        return set()  # a missing contract is the contract policy's finding, not a grain change
    try:
        return contract_keys(read_contract_document(contract_path))
    except DescriptorError as exc:
        raise PortSchemaError(str(exc)) from exc


def _schema_from_files(
    product: DataProduct,
    port: OutputPort,
    models: Mapping[str, tuple[Path, Mapping[str, Any]]],
    contract_path: Path,
) -> PortSchema:
    address = product.address(port)
    if port.model not in models:
        raise PortSchemaError(
            f"domain {product.domain}, product {product.name}, port {port.name} v{port.version}: "
            f"no YAML under dbt_project/{product.domain}/models/ declares model {port.model!r}; "
            "describe the model's columns (with data_type) in a .yml next to it"
        )
    path, entry = models[port.model]
    keys = _contract_keys(contract_path)
    model_constraints = [c for c in entry.get("constraints") or [] if isinstance(c, dict)]
    not_null: set[str] = set()
    for constraint in model_constraints:
        kind = str(constraint.get("type", "")).lower()
        if kind in _KEY_CONSTRAINTS:
            keys.update(constraint.get("columns") or [])
        if kind == "primary_key":
            not_null.update(constraint.get("columns") or [])
    columns = []
    for column in entry.get("columns") or []:
        name = column["name"]
        if not column.get("data_type"):
            raise PortSchemaError(
                f"domain {product.domain}, product {product.name}, port {port.name}: column "
                f"{name!r} of model {port.model} in {path} has no `data_type`; an output port's "
                "columns are typed by its enforced model contract"
            )
        constraints = _constraint_types(column)
        if constraints & _KEY_CONSTRAINTS:
            keys.add(name)
        columns.append(
            ColumnSchema(
                name=name,
                data_type=normalize_type(column["data_type"]),
                nullable=not (constraints & _NOT_NULL_CONSTRAINTS or name in not_null),
                description=" ".join(str(column.get("description") or "").split()),
            )
        )
    order = [c.name for c in columns]
    grain = tuple(n for n in order if n in keys) + tuple(sorted(keys - set(order)))
    return PortSchema(
        address=address,
        version=port.version,
        columns=tuple(columns),
        grain=grain,
        deprecation_date=port.deprecation_date.isoformat() if port.deprecation_date else None,
    )


def declared_port_schema(repo_root: Path, product: DataProduct, port: OutputPort) -> PortSchema:
    """The schema ``port`` of ``product`` declares in the files under ``repo_root``."""
    models = model_entries(domain_models_dir(repo_root, product.domain))
    contract = repo_root / "domains" / product.domain / port.contract
    return _schema_from_files(product, port, models, contract)


def declared_port_schemas(repo_root: Path) -> dict[tuple[str, int], PortSchema]:
    """Every declared output port of every domain, keyed by (address, major version)."""
    schemas: dict[tuple[str, int], PortSchema] = {}
    for domain in load_all_domains(repo_root / "domains"):
        models = model_entries(domain_models_dir(repo_root, domain.name))
        for product in domain.products:
            for port in product.output_ports:
                schema = _schema_from_files(
                    product, port, models, domain.contract_path(port.contract)
                )
                schemas[(schema.address, schema.version)] = schema
    return dict(sorted(schemas.items()))


# --- a git revision ------------------------------------------------------------------------


def _git(repo_root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise ValueError("git is not installed, so there is no revision to compare against")
    return subprocess.run([git, "-C", str(repo_root), *args], capture_output=True, check=False)


@contextmanager
def checkout_at_revision(repo_root: Path, revision: str) -> Iterator[Path]:
    """The mesh's declaration files (``domains/``, ``dbt_project/``) as of ``revision``,
    extracted with ``git archive`` into a temporary directory that is removed afterwards.

    Yields the directory playing the role of ``repo_root`` at that revision. Raises
    :class:`ValueError` with what to do when ``repo_root`` is not in a git repository or the
    revision is unknown.
    """
    if revision.startswith("-"):
        raise ValueError(
            f"bad git revision {revision!r}: give a commit, branch or tag, not an option"
        )
    prefix = _git(repo_root, "rev-parse", "--show-prefix")
    if prefix.returncode != 0:
        raise ValueError(
            f"{repo_root} is not inside a git repository, so there is no revision to compare "
            "against; drop --against to compare with the published schemas"
        )
    commit = _git(repo_root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if commit.returncode != 0:
        raise ValueError(
            f"unknown git revision {revision!r} in {repo_root}; give a commit, branch or tag "
            "(e.g. HEAD, main, HEAD~1)"
        )
    sha = commit.stdout.decode().strip()
    rel = prefix.stdout.decode().strip()
    paths = [f"{rel}domains", f"{rel}dbt_project"]
    archive = _git(repo_root, "archive", "--format=tar", sha, "--", *paths)
    if archive.returncode != 0:
        raise ValueError(
            f"revision {revision} has no domains/ or dbt_project/ to compare against: "
            f"{archive.stderr.decode().strip()}"
        )
    with tempfile.TemporaryDirectory(prefix="mesh-diff-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / rel


def declared_port_schemas_at(repo_root: Path, revision: str) -> dict[tuple[str, int], PortSchema]:
    """:func:`declared_port_schemas` as the files were at git ``revision``."""
    with checkout_at_revision(repo_root, revision) as old_root:
        return declared_port_schemas(old_root)

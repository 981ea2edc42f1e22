"""Output-port contracts exported as Open Data Contract Standard (ODCS) v3 documents.

Why: what the mesh promises about a port is spread over three files that only the platform
reads together — the product descriptor (owner, SLO, descriptions), the dbt model YAML
(columns, types, ``not_null``, personal-data meta) and the Soda contract (quality checks).
ODCS is the open interchange format for that promise (DESIGN §6), so a catalog or another
tool can read one file per port without knowing our layout. This module only translates:
it never changes what the platform enforces, and every document is checked against the
official JSON schema shipped by ``open-data-contract-standard`` before anyone sees it.

Mapping decisions, made once here:

* **Identity.** ``id`` is ``<domain>.<port>.v<major>`` (stable across exports, unique across
  majors); ``version`` is ``<major>.0.0``; ``status`` is ``deprecated`` once the port has a
  ``deprecation_date``, ``active`` otherwise.
* **Classification of a column** (ODCS ``classification`` is free text). From the dbt column
  meta ``pii`` (vocabulary in ``governance/personal_data.yaml``): ``{treatment: <t>}`` →
  ``pii-<t>`` (``pii-hashed``, ``pii-masked``, ``pii-generalized``), while ``{treatment:
  raw}`` (or no treatment) → plain ``pii``, the unprotected case; ``pii: false`` → the
  product's classification (``internal``, ``confidential``…): a column that is not personal
  data is still no more public than its product. A column with no ``pii`` meta gets no
  classification — unknown is not claimed to be safe (the PII-tagging policy reports it). The
  raw dbt meta is kept in the property's ``customProperties`` (``dbtMeta``).
* **Quality.** A Soda check becomes an ODCS library metric only when ODCS can say exactly
  the same thing: ``missing`` → ``nullValues`` (``missingValues`` with ``missing_values``),
  ``duplicate`` → ``duplicateValues`` (on the property, or on the object with
  ``arguments.properties`` for a multi-column check), ``invalid`` with ``valid_values`` or
  ``valid_format`` → ``invalidValues`` (``validValues`` / ``pattern``), ``row_count`` →
  ``rowCount``; Soda's default thresholds become explicit operators (``mustBe: 0``,
  ``mustBeGreaterThan: 0``). Anything else — ``schema``, ``failed_rows``, ranges
  (``valid_min``…), a ``filter``, warn levels — is ``type: custom, engine: soda`` with the
  check's own YAML as ``implementation``, so nothing is approximated. Every rule's ``id`` is
  the check's Dagster check name; every rule has ``severity: error`` unless Soda's threshold
  says ``warn``, because a failed check blocks publishing.
* **Keys.** ``required`` comes from a dbt ``not_null`` (or ``primary_key``) constraint. A
  column with a Soda ``duplicate`` check at ``mustBe: 0`` is ``unique``; the primary key is
  a dbt ``primary_key`` constraint if one exists, else the first unique, required column,
  else a multi-column ``duplicate`` check over required columns (in its column order).
* **Server.** The published port is an Apache Iceberg table, so the server is ODCS's
  ``type: iceberg``: the catalog (``MESH_PORTS_CATALOG``, its password never shown), the
  namespace (the domain), the warehouse (``MESH_PORTS_URI``) and, as custom properties, the
  table (``<port>_v<major>``) and its location.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from mesh_platform.core.bindings import PortBinding, bind_domain
from mesh_platform.core.contracts import ContractCheck, read_contract_document
from mesh_platform.core.descriptor import DataProduct, OutputPort
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.environment import REPO_ROOT, MeshEnvironment, get_environment
from mesh_platform.core.manifest import load_mesh_manifest
from mesh_platform.ports.location import CATALOG_NAME, port_store, redacted
from mesh_platform.ports.store import table_name

API_VERSION = "v3.2.0"
SODA = "soda"

# Soda threshold comparators that have an exact ODCS operator (ranges do not: Soda's
# ``must_be_between`` names its bounds' inclusiveness, ODCS's does not).
_OPERATORS = {
    "must_be": "mustBe",
    "must_not_be": "mustNotBe",
    "must_be_greater_than": "mustBeGreaterThan",
    "must_be_greater_than_or_equal": "mustBeGreaterOrEqualTo",
    "must_be_less_than": "mustBeLessThan",
    "must_be_less_than_or_equal": "mustBeLessOrEqualTo",
}
_UNITS = {"count": "rows", "percent": "percent"}
_DEFAULT_THRESHOLD = {"row_count": {"mustBeGreaterThan": 0}}  # others: mustBe 0
# Check keys each library metric can carry; any other key (filter, ranges…) means custom.
_LIBRARY_KEYS = {
    "missing": {"missing_values"},
    "duplicate": {"columns"},
    "invalid": {"valid_values", "valid_format"},
    "row_count": set(),
}
_DIMENSIONS = {
    "missing": "completeness",
    "duplicate": "uniqueness",
    "invalid": "conformity",
    "row_count": "completeness",
    "schema": "conformity",
}
# Soda column-level keys that configure that column's missing and validity checks.
_COLUMN_CHECK_DEFAULTS = (
    "missing_values",
    "missing_format",
    "invalid_values",
    "invalid_format",
    "valid_values",
    "valid_format",
    "valid_min",
    "valid_max",
    "valid_length",
    "valid_min_length",
    "valid_max_length",
    "valid_reference_data",
)
_INTEGER_FORMATS = {
    "tinyint": "i8",
    "smallint": "i16",
    "integer": "i32",
    "int": "i32",
    "bigint": "i64",
    "hugeint": "i128",
    "utinyint": "u8",
    "usmallint": "u16",
    "uinteger": "u32",
    "ubigint": "u64",
    "uhugeint": "u128",
}
_FLOAT_FORMATS = {"double": "f64", "float8": "f64", "float": "f32", "real": "f32", "float4": "f32"}
_STRINGS = {"varchar", "text", "string", "char", "bpchar", "uuid", "enum"}


class ExportedContract(NamedTuple):
    """One port's ODCS document and the reasons it is invalid (empty when it validates)."""

    address: str
    version: int
    document: dict[str, Any]
    errors: list[str]

    @property
    def contract_id(self) -> str:
        return str(self.document["id"])

    @property
    def file_name(self) -> str:
        return f"{self.contract_id}.odcs.yaml"


def contract_id(address: str, version: int) -> str:
    return f"{address}.v{version}"


# --- the document ------------------------------------------------------------------------


def odcs_document(
    binding: PortBinding,
    manifest: Mapping[str, Any],
    ports_dir: Path,
    environment: str = "local",
) -> dict[str, Any]:
    """The ODCS document of one output port (pure: reads only the port's Soda contract file).

    The Soda contract is re-read because :class:`~mesh_platform.core.contracts.ContractSpec` keeps
    only each check's identity, and a quality rule needs the check's configuration.
    """
    product, port = binding.product, binding.port
    node = manifest["nodes"][binding.unique_id]
    checks = _soda_checks(binding)
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": contract_id(binding.address, port.version),
        "name": binding.address,
        "version": f"{port.version}.0.0",
        "status": "deprecated" if port.deprecation_date else "active",
        "domain": product.domain,
        # Deprecated in ODCS 3.1 in favour of a separate data-product document; still the
        # only field that names the product, so it stays until we export those too.
        "dataProduct": product.name,
        "tags": list(product.tags),
        "description": _description(product, port, binding.address),
    }
    owner = product.port_owner(port)
    if owner is not None:
        document["team"] = {
            "id": owner.team,
            "name": owner.team,
            "description": f"Owns {binding.address} v{port.version}; contact {owner.contact}.",
        }
        document["support"] = [
            {
                "id": "owner-email",
                "channel": f"{owner.team} email",
                "tool": "email",
                "scope": "issues",
                "url": f"mailto:{owner.contact}",
            }
        ]
    sla = _sla(product, port)
    if sla:
        document["slaProperties"] = sla
    store = port_store(ports_dir)
    document["servers"] = [
        {
            "id": f"ports-{environment}",
            "server": f"mesh-ports-{environment}",
            "type": "iceberg",
            "environment": environment,
            "description": "The published port: an Apache Iceberg table (Parquet data files, one "
            "commit per publish); `mesh query` reads its current snapshot as a view of the "
            "same name.",
            "catalog": CATALOG_NAME,
            "catalogUrl": redacted(store.catalog_uri),
            "namespace": product.domain,
            "warehouse": store.data_uri,
            "customProperties": [
                {"property": "table", "value": table_name(port.name, port.version)},
                {
                    "property": "location",
                    "value": store.table_location(product.domain, port.name, port.version),
                },
            ],
        }
    ]
    document["schema"] = [_schema_object(binding, node, checks)]
    document["customProperties"] = _custom_properties(binding, port)
    return document


def _description(product: DataProduct, port: OutputPort, address: str) -> dict[str, str]:
    description: dict[str, str] = {}
    purpose = (port.description or product.description).strip()
    if purpose:
        description["purpose"] = purpose
    if port.example:
        description["usage"] = f"Example query (`mesh query`):\n{port.example.strip()}"
    else:
        description["usage"] = (
            f"Query the view `{address}` (latest major) or `{address}_v{port.version}` with "
            "`mesh query`, or read the Parquet file named by the server."
        )
    limitations = []
    if port.deprecation_date:
        limitations.append(
            f"Deprecated: published until {port.deprecation_date.isoformat()}; move to a "
            "newer major version."
        )
    if port.carries_pii:
        limitations.append("Carries raw personal data: access is restricted by grants.")
    if limitations:
        description["limitations"] = " ".join(limitations)
    return description


def _sla(product: DataProduct, port: OutputPort) -> list[dict[str, Any]]:
    sla: list[dict[str, Any]] = []
    if product.slo is not None:
        # ODCS prefers `latency` to `freshness` for "how old the data may be".
        sla.append(
            {
                "id": "freshness",
                "property": "latency",
                "value": product.slo.freshness_hours,
                "unit": "h",
                "description": f"Published data is at most {product.slo.freshness_hours:g} "
                "hours old (the product's freshness SLO).",
            }
        )
    if port.deprecation_date:
        sla.append(
            {
                "id": "end-of-life",
                "property": "endOfLife",
                "value": port.deprecation_date.isoformat(),
                "description": "Last day this major version is published.",
            }
        )
    return sla


def _custom_properties(binding: PortBinding, port: OutputPort) -> list[dict[str, Any]]:
    product = binding.product
    props: list[dict[str, Any]] = [
        # ODCS has no contract-level classification; the product's is the port's.
        {"property": "classification", "value": product.classification.value},
        {"property": "tier", "value": product.tier.value},
        {"property": "portKind", "value": port.kind},
        {"property": "carriesPii", "value": port.carries_pii},
        {"property": "dbtModel", "value": binding.unique_id, "vendor": "dbt"},
        {"property": "sodaContract", "value": _repo_path(binding.contract.path), "vendor": SODA},
    ]
    if port.deprecation_date:
        props.append({"property": "deprecationDate", "value": port.deprecation_date.isoformat()})
    return props


def _repo_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --- schema and properties ----------------------------------------------------------------


def _schema_object(
    binding: PortBinding,
    node: Mapping[str, Any],
    checks: list[tuple[ContractCheck, dict[str, Any]]],
) -> dict[str, Any]:
    port = binding.port
    columns: dict[str, Mapping[str, Any]] = dict(node.get("columns") or {})
    rules = {id(check): _quality_rule(check, config) for check, config in checks}
    required = {name for name, col in columns.items() if _constraint_types(col) & _REQUIRED}
    unique = {
        check.column
        for check, _ in checks
        if check.check_type == "duplicate" and check.column and _exactly_zero(rules[id(check)])
    }
    primary_key = _primary_key(node, columns, checks, rules, required, unique)
    properties = []
    for name, column in columns.items():
        keys: dict[str, Any] = {"required": name in required}
        if name in unique or "unique" in _constraint_types(column):
            keys["unique"] = True
        if name in primary_key:
            keys["primaryKey"] = True
            keys["primaryKeyPosition"] = primary_key.index(name) + 1
        quality = [rules[id(c)] for c, _ in checks if c.column == name]
        properties.append(_property(binding.product, name, column, keys, quality))
    obj: dict[str, Any] = {
        "id": port.name,
        "name": port.name,
        # The name analysts query this major by in `mesh query`.
        "physicalName": f"{binding.address}_v{port.version}",
        "physicalType": "table",
    }
    description = (node.get("description") or "").strip()
    if description:
        obj["description"] = description
    obj["properties"] = properties
    # Dataset checks, and column checks on a column the model does not have (kept, not lost).
    dataset = [rules[id(c)] for c, _ in checks if c.column is None or c.column not in columns]
    if dataset:
        obj["quality"] = dataset
    return obj


_REQUIRED = {"not_null", "primary_key"}


def _constraint_types(column: Mapping[str, Any]) -> set[str]:
    return {c.get("type") for c in column.get("constraints") or []}


def _property(
    product: DataProduct,
    name: str,
    column: Mapping[str, Any],
    keys: Mapping[str, Any],
    quality: list[dict[str, Any]],
) -> dict[str, Any]:
    prop: dict[str, Any] = {"id": re.sub(r"[^A-Za-z0-9_-]", "_", name), "name": name}
    description = (column.get("description") or "").strip()
    if description:
        prop["description"] = description
    data_type = column.get("data_type")
    logical, options = logical_type(data_type)
    if logical:
        prop["logicalType"] = logical
        if options:
            prop["logicalTypeOptions"] = options
    if data_type:
        prop["physicalType"] = data_type
    prop.update(keys)
    meta = column.get("meta") or (column.get("config") or {}).get("meta") or {}
    classification = classify(meta, product)
    if classification:
        prop["classification"] = classification
    if quality:
        prop["quality"] = quality
    if meta:
        prop["customProperties"] = [{"property": "dbtMeta", "value": meta, "vendor": "dbt"}]
    return prop


def classify(meta: Mapping[str, Any], product: DataProduct) -> str | None:
    """A column's ODCS classification from its dbt ``pii`` meta (see the module docstring)."""
    if "pii" not in meta:
        return None
    pii = meta["pii"]
    if pii is False:
        return product.classification.value
    treatment = pii.get("treatment") if isinstance(pii, Mapping) else None
    return f"pii-{treatment}" if treatment and treatment != "raw" else "pii"


def logical_type(data_type: str | None) -> tuple[str | None, dict[str, Any]]:
    """ODCS logical type (and options) of a DuckDB/dbt data type; ``None`` when unknown.

    Unknown types keep only their ``physicalType`` rather than a guessed logical type.
    """
    text = (data_type or "").strip().lower()
    if not text:
        return None, {}
    if text.endswith("]") or text.startswith(("list", "array")):
        return "array", {}
    if text.startswith("struct"):
        return "object", {}
    base = re.split(r"[\s(]", text, maxsplit=1)[0]
    if base in _INTEGER_FORMATS:
        return "integer", {"format": _INTEGER_FORMATS[base]}
    if base in _FLOAT_FORMATS:
        return "number", {"format": _FLOAT_FORMATS[base]}
    if base in {"decimal", "numeric"}:
        return "number", {}
    if base in _STRINGS:
        return "string", {}
    if base in {"boolean", "bool"}:
        return "boolean", {}
    if base == "date":
        return "date", {}
    if base in {"timestamptz", "timestamp", "datetime"} or base.startswith("timestamp_"):
        with_zone = base == "timestamptz" or "with time zone" in text
        return "timestamp", {"timezone": True} if with_zone else {}
    if base == "time":
        return "time", {}
    return None, {}


def _primary_key(
    node: Mapping[str, Any],
    columns: Mapping[str, Mapping[str, Any]],
    checks: list[tuple[ContractCheck, dict[str, Any]]],
    rules: Mapping[int, dict[str, Any]],
    required: set[str],
    unique: set[str],
) -> list[str]:
    declared = [n for n, c in columns.items() if "primary_key" in _constraint_types(c)]
    if declared:
        return declared
    for constraint in node.get("constraints") or []:
        if constraint.get("type") == "primary_key" and constraint.get("columns"):
            return list(constraint["columns"])
    for name in columns:
        if name in unique and name in required:
            return [name]
    for check, config in checks:
        keys = config.get("columns") or []
        if (
            check.check_type == "duplicate"
            and check.column is None
            and keys
            and _exactly_zero(rules[id(check)])
            and all(k in required for k in keys)
        ):
            return list(keys)
    return []


def _exactly_zero(rule: Mapping[str, Any]) -> bool:
    """A library rule that tolerates no offending row (what makes a duplicate check a key)."""
    return rule.get("type") == "library" and rule.get("mustBe") == 0 and "unit" not in rule


# --- quality ------------------------------------------------------------------------------


def _soda_checks(binding: PortBinding) -> list[tuple[ContractCheck, dict[str, Any]]]:
    """Every check of the port's contract with its effective Soda configuration."""
    raw = read_contract_document(binding.contract.path)
    configs: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    for column in raw.get("columns") or []:
        # Soda lets a column configure its missing and validity checks once, for all of them.
        shared = {k: column[k] for k in _COLUMN_CHECK_DEFAULTS if k in column}
        defaults = {
            "missing": {k: v for k, v in shared.items() if k.startswith("missing_")},
            "invalid": {k: v for k, v in shared.items() if not k.startswith("missing_")},
        }
        for entry in column.get("checks") or []:
            ((check_type, config),) = entry.items()
            config = {**defaults.get(check_type, {}), **(config or {})}
            configs[(check_type, column["name"], config.get("qualifier"))] = config
    for entry in raw.get("checks") or []:
        ((check_type, config),) = entry.items()
        config = dict(config or {})
        configs[(check_type, None, config.get("qualifier"))] = config
    return [
        (c, configs.get((c.check_type, c.column, c.qualifier), {})) for c in binding.contract.checks
    ]


def _quality_rule(check: ContractCheck, config: Mapping[str, Any]) -> dict[str, Any]:
    """The ODCS quality entry of one Soda check: a library metric, else Soda's own YAML."""
    rule: dict[str, Any] = {"id": check.name, "name": check.name}
    library = _library_metric(check, config)
    if library is not None:
        rule.update(library)
    else:
        rule.update(
            {
                "type": "custom",
                "engine": SODA,
                "implementation": _soda_yaml(check, config),
            }
        )
        if check.check_type in _DIMENSIONS:
            rule["dimension"] = _DIMENSIONS[check.check_type]
    where = f"column `{check.column}`" if check.column else "the dataset"
    rule["description"] = (
        f"Soda check `{check.check_type}` on {where}; a failure blocks publishing the port."
    )
    threshold = config.get("threshold")
    warns = isinstance(threshold, Mapping) and str(threshold.get("level", "")).lower() == "warn"
    rule["severity"] = "warning" if warns else "error"
    return rule


def _library_metric(check: ContractCheck, config: Mapping[str, Any]) -> dict[str, Any] | None:
    allowed = _LIBRARY_KEYS.get(check.check_type)
    if allowed is None or set(config) - allowed - {"qualifier", "name", "threshold"}:
        return None
    operator = _operator(check.check_type, config.get("threshold"))
    if operator is None:
        return None
    rule: dict[str, Any] = {"type": "library", "dimension": _DIMENSIONS[check.check_type]}
    arguments: dict[str, Any] = {}
    if check.check_type == "missing":
        if "missing_values" in config:
            rule["metric"] = "missingValues"
            arguments["missingValues"] = [None, *config["missing_values"]]
        else:
            rule["metric"] = "nullValues"
    elif check.check_type == "duplicate":
        rule["metric"] = "duplicateValues"
        if check.column is None:
            if not config.get("columns"):
                return None
            arguments["properties"] = list(config["columns"])
    elif check.check_type == "invalid":
        rule["metric"] = "invalidValues"
        if set(config) >= {"valid_values", "valid_format"}:
            return None
        if "valid_values" in config:
            arguments["validValues"] = list(config["valid_values"])
        elif isinstance(config.get("valid_format"), Mapping) and "regex" in config["valid_format"]:
            arguments["pattern"] = config["valid_format"]["regex"]
        else:
            return None
    else:
        rule["metric"] = "rowCount"
    if arguments:
        rule["arguments"] = arguments
    rule.update(operator)
    return rule


def _operator(check_type: str, threshold: Any) -> dict[str, Any] | None:
    """ODCS operator (and unit) of a Soda threshold; ``None`` when ODCS cannot express it."""
    if threshold is None:
        return dict(_DEFAULT_THRESHOLD.get(check_type, {"mustBe": 0}))
    if not isinstance(threshold, Mapping):
        return None
    comparators = [k for k in threshold if k in _OPERATORS]
    others = set(threshold) - set(_OPERATORS) - {"metric", "level"}
    if len(comparators) != 1 or others:
        return None
    operator: dict[str, Any] = {_OPERATORS[comparators[0]]: threshold[comparators[0]]}
    metric = threshold.get("metric")
    if metric is not None:
        if metric not in _UNITS:
            return None
        operator["unit"] = _UNITS[metric]
    return operator


def _soda_yaml(check: ContractCheck, config: Mapping[str, Any]) -> str:
    """The check as written in the Soda contract (its column is the property it is under)."""
    return yaml.safe_dump({check.check_type: dict(config) or None}, sort_keys=False).strip()


# --- validation ---------------------------------------------------------------------------


def odcs_json_schema() -> dict[str, Any]:
    """The official ODCS JSON schema, as shipped by the ``open-data-contract-standard`` package."""
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators

    schema = odcs_json_schema()
    cls = validators.validator_for(schema)  # the draft the schema declares (2019-09)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate_odcs(document: Mapping[str, Any]) -> list[str]:
    """Why ``document`` is not a valid ODCS contract, as ``<path>: <message>``; empty if valid.

    Two checks: the official JSON schema, then the package's pydantic model, which must
    accept the document *and* keep every field — a field that model drops is invisible to
    every Python tool built on it, even when the JSON schema allows it.
    """
    errors = [
        f"{_path(error.absolute_path)}: {_message(error)}"
        for error in sorted(
            _validator().iter_errors(document), key=lambda e: _path(e.absolute_path)
        )
    ]
    if errors:
        return errors
    return _model_errors(document)


def _message(error: Any) -> str:
    """jsonschema's message; for ``oneOf``/``anyOf``, the closest alternative's reason instead
    of a dump of the whole instance."""
    from jsonschema.exceptions import best_match

    if error.validator == "oneOf" and not error.context:
        return "matches more than one of the allowed forms (oneOf), e.g. two operators; keep one"
    if not error.context:
        return error.message
    # A failed `type` alternative (e.g. ODCS's deprecated list form of `team`) explains least.
    causes = [c for c in error.context if c.validator != "type"] or list(error.context)
    closest = best_match(causes)
    return (
        f"matches none of the allowed forms ({error.validator}); closest: "
        f"{_path(closest.absolute_path)}: {closest.message}"
    )


def _model_errors(document: Mapping[str, Any]) -> list[str]:
    from open_data_contract_standard.model import OpenDataContractStandard
    from pydantic import ValidationError

    try:
        model = OpenDataContractStandard.model_validate(document)
    except ValidationError as exc:
        return [f"{_path(e['loc'])}: {e['msg']} (ODCS pydantic model)" for e in exc.errors()]
    kept = model.model_dump(by_alias=True, exclude_none=True)
    return [
        f"{path}: dropped by the ODCS pydantic model (Python tools would not see it)"
        for path in _lost(document, kept, ())
    ]


def _lost(original: Any, kept: Any, at: tuple[Any, ...]) -> list[str]:
    if isinstance(original, Mapping) and isinstance(kept, Mapping):
        lost = []
        for key, value in original.items():
            if key not in kept:
                if value is not None:
                    lost.append(_path((*at, key)))
            else:
                lost.extend(_lost(value, kept[key], (*at, key)))
        return lost
    if isinstance(original, list) and isinstance(kept, list):
        return [p for i, v in enumerate(original[: len(kept)]) for p in _lost(v, kept[i], (*at, i))]
    return []


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


# --- every port ---------------------------------------------------------------------------


def export_all(env: MeshEnvironment | None = None) -> list[ExportedContract]:
    """The ODCS document of every output port of every domain, each with its validation errors.

    Sorted by address and version, so exports and their listings are stable.
    """
    env = env or get_environment()
    manifest = load_mesh_manifest(env)
    exported = []
    for domain in load_all_domains(env.domains_dir):
        for binding in bind_domain(domain, manifest).ports.values():
            document = odcs_document(binding, manifest, env.ports_dir, env.name)
            exported.append(
                ExportedContract(
                    binding.address, binding.port.version, document, validate_odcs(document)
                )
            )
    return sorted(exported, key=lambda e: (e.address, e.version))


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (descriptions, Soda YAML, SQL) as readable ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def to_yaml(document: Mapping[str, Any]) -> str:
    """The document as YAML, in ODCS field order (not sorted), ready to write."""
    return yaml.dump(
        dict(document), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100
    )

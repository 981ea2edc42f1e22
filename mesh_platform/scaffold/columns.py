"""A product's columns: found in a source or an upstream port, declared in the output-port SQL.

The output-port model's SQL is the one place a product's columns are written: its final
``select`` casts every column to its type and says what it is in a trailing comment::

    cast(country_code as varchar) as country_code,  -- ISO 3166-1 alpha-2 code of the country

:func:`parse_port_sql` reads that list back, and :func:`derive_port_files` turns it into the
model YAML (enforced contract, ``data_type``, description) and the Soda contract, keeping the
classifications, constraints and checks already written for columns that did not change.
So a real product is edited in two files — that SQL and the descriptor — and
``mesh new sync`` writes the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from mesh_platform.core import yaml_io
from mesh_platform.core.declared_schema import normalize_type
from mesh_platform.governance.config import GovernanceConfig
from mesh_platform.scaffold.plan import ScaffoldError

KEY = re.compile(r"(^|_)id$")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_NESTED = ("struct", "map", "union", "[]", "list", "json")


@dataclass
class Column:
    """One output-port column as the scaffold writes it."""

    name: str
    data_type: str
    description: str
    expression: str  # what the final select casts, e.g. the staging column or a hash of it
    pii: Any = None  # None: not classified; False: not personal; or {category, treatment}
    checks: list[Any] = field(default_factory=list)  # Soda check entries of the column
    not_null: bool = False
    samples: list[Any] | None = None  # values sampled from the source, when it was read


def snake(name: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    text = re.sub(r"_+", "_", text)
    if not text or not text[0].isalpha():
        text = f"col_{text}"
    return text


def is_key(name: str, config: GovernanceConfig) -> bool:
    return bool(KEY.search(name)) or config.shared_keys.key_for(name) is not None


def staging_columns(raw: Sequence[tuple[str, str]], config: GovernanceConfig) -> list[Column]:
    """Source columns (name, DuckDB type) → typed, conventionally named staging columns.

    Names become snake_case; timestamps end in ``_at``; shared keys get the glossary's type;
    nested values (structs, lists) are kept as JSON text so the port stays a flat table.
    """
    out: list[Column] = []
    seen: set[str] = set()
    for raw_name, raw_type in raw:
        data_type = normalize_type(raw_type)
        name = snake(raw_name)
        quoted = '"' + raw_name.replace('"', '""') + '"'
        expression = quoted
        if any(n in data_type for n in _NESTED):
            expression, data_type = f"to_json({quoted})", "varchar"
        suffix = config.naming.type_suffixes.get(data_type)
        if suffix and not name.endswith(suffix):
            name = f"{name.removesuffix('_time').removesuffix('_ts')}{suffix}"
        key = config.shared_keys.key_for(name)
        if key:
            data_type = normalize_type(config.shared_keys.keys[key].data_type)
        while name in seen:
            name += "_2"
        seen.add(name)
        out.append(Column(name, data_type, f"`{raw_name}` as delivered by the source.", expression))
    return out


def classify(columns: list[Column], config: GovernanceConfig) -> list[Column]:
    """Columns that look like personal data — by name, type and sampled values — are hashed by
    default (the safe choice)."""
    for column in columns:
        category = config.personal_data.category_of(column.name, column.data_type, column.samples)
        if column.pii is None and category:
            column.pii = {"category": category, "treatment": "hashed"}
            column.expression = f"{{{{ mesh_hash('{column.name}') }}}}"
            column.data_type = "varchar"
            column.description += " Hashed (SHA-256): personal data never leaves the domain raw."
    return columns


def default_checks(columns: list[Column], config: GovernanceConfig, nulls: Mapping[str, int]):
    """Every key column gets a `missing` check (the governance minimum), unless it had nulls."""
    for column in columns:
        if column.checks or not is_key(column.name, config):
            continue
        column.checks = [{"missing": None}]
        column.not_null = not nulls.get(column.name)


def port_columns(
    node: Mapping[str, Any], contract: Mapping[str, Any] | None, description: str
) -> list[Column]:
    """An upstream port's columns as its model declares them, with its contract's checks."""
    checks = {c["name"]: c.get("checks") or [] for c in (contract or {}).get("columns") or []}
    out = []
    for name, col in (node.get("columns") or {}).items():
        meta = {**(col.get("meta") or {}), **((col.get("config") or {}).get("meta") or {})}
        constraints = {c.get("type") for c in col.get("constraints") or []}
        out.append(
            Column(
                name=name,
                data_type=normalize_type(col.get("data_type") or "varchar"),
                description=(col.get("description") or "").strip() or f"{name} ({description}).",
                expression=name,
                pii=meta.get("pii"),
                checks=list(checks.get(name, [])),
                not_null=bool(constraints & {"not_null", "primary_key"}),
            )
        )
    return out


def render_select(columns: Sequence[Column], indent: str = "        ") -> str:
    """The final select list: one `cast(... as type) as name,  -- description` per line."""
    lines = []
    for i, c in enumerate(columns):
        comma = "," if i < len(columns) - 1 else ""
        desc = " ".join(c.description.split())
        lines.append(f"{indent}cast({c.expression} as {c.data_type}) as {c.name}{comma}  -- {desc}")
    return "\n".join(lines)


def _cte(tree, name: str):
    from sqlglot import exp

    for cte in tree.find_all(exp.CTE):
        if cte.alias == name:
            return cte.this
    return None


def parse_port_sql(sql: str, model: str) -> list[tuple[str, str, str]]:
    """(name, data_type, description) of every column of an output-port model's SQL."""
    import sqlglot
    from sqlglot import exp

    counter = iter(range(10**6))
    text = _JINJA.sub(lambda m: f"__jinja_{next(counter)}" if m[0][:2] == "{{" else "", sql)
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ScaffoldError(f"model {model}: cannot read its SQL ({exc}); fix the SQL") from None
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    for _ in range(20):
        if not (
            select is not None
            and len(select.expressions) == 1
            and isinstance(select.expressions[0], exp.Star)
        ):
            break
        source = select.args.get("from_") or select.args.get("from")
        table = source.this if source else None
        inner = _cte(tree, table.name) if isinstance(table, exp.Table) else None
        select = inner if isinstance(inner, exp.Select) else None
    if select is None:
        raise ScaffoldError(
            f"model {model}: cannot find its final select list; end the model with "
            "`select * from final` over a CTE that lists every column"
        )
    out = []
    for expr in select.expressions:
        name = expr.alias_or_name
        inner = expr.this if isinstance(expr, exp.Alias) else expr
        if not isinstance(inner, exp.Cast | exp.TryCast):
            raise ScaffoldError(
                f"model {model}: column `{name}` has no declared type; write it as "
                f"`cast(<expression> as <type>) as {name},  -- <what it is>`"
            )
        data_type = normalize_type(inner.args["to"].sql(dialect="duckdb"))
        comments = [*(expr.comments or []), *(inner.comments or [])]
        description = " ".join(" ".join(comments).split())
        if not description:
            raise ScaffoldError(
                f"model {model}: column `{name}` has no description; end its line with "
                "`-- <what the column is>`"
            )
        out.append((name, data_type, description))
    if not out:
        raise ScaffoldError(f"model {model}: its final select lists no columns")
    return out


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def model_yaml(model: str, description: str, columns: Sequence[Column]) -> str:
    lines = [
        "models:",
        f"  - name: {model}",
        "    description: >",
        *_wrap(description, "      "),
        "    config:",
        "      contract: {enforced: true}",
        "    columns:",
    ]
    for c in columns:
        lines += [f"      - name: {c.name}", f"        description: {_flow(c.description)}"]
        lines.append(f"        data_type: {c.data_type}")
        if c.not_null:
            lines.append("        constraints: [{type: not_null}]")
        if c.pii is not None:
            lines.append(f"        config: {{meta: {{pii: {_flow(c.pii)}}}}}")
    return "\n".join(lines) + "\n"


def soda_contract(dataset: str, address: str, version: int, columns: Sequence[Column]) -> str:
    lines = [
        f"dataset: {dataset}",
        f"description: Contract of the output port {address} (v{version}).",
        "columns:",
    ]
    for c in columns:
        lines += [f"  - name: {c.name}", f"    data_type: {c.data_type}"]
        if c.checks:
            lines.append("    checks:")
            for check in c.checks:
                ((kind, config),) = check.items()
                lines.append(f"      - {kind}:" + (f" {_flow(config)}" if config else ""))
    lines += ["checks:", "  - schema:", "  - row_count:"]
    return "\n".join(lines) + "\n"


def _wrap(text: str, indent: str, width: int = 96) -> list[str]:
    import textwrap

    return textwrap.wrap(
        " ".join(text.split()), width - len(indent), initial_indent=indent, subsequent_indent=indent
    ) or [indent + "-"]


def derive_port_files(
    sql: str,
    model: str,
    description: str,
    old_yaml: str | None,
    old_contract: str | None,
    config: GovernanceConfig,
) -> tuple[str, str | None, list[Column]]:
    """Model YAML and Soda contract columns from the port SQL, keeping what still applies.

    Returns the YAML text, the contract's ``dataset`` line source (or None) and the columns.
    """
    old_cols: dict[str, Mapping[str, Any]] = {}
    if old_yaml:
        for m in (yaml_io.safe_load(old_yaml) or {}).get("models") or []:
            if m.get("name") == model:
                description = (m.get("description") or description).strip()
                old_cols = {c["name"]: c for c in m.get("columns") or []}
    contract = yaml_io.safe_load(old_contract) if old_contract else {}
    old_checks = {c["name"]: c.get("checks") or [] for c in (contract or {}).get("columns") or []}
    old_types = {c["name"]: c.get("data_type") for c in (contract or {}).get("columns") or []}
    columns = []
    for name, data_type, text in parse_port_sql(sql, model):
        old = old_cols.get(name) or {}
        was = old.get("data_type") or old_types.get(name) or ""
        same = normalize_type(was) == data_type
        meta = (old.get("config") or {}).get("meta") or old.get("meta") or {}
        constraints = {c.get("type") for c in old.get("constraints") or []}
        column = Column(name, data_type, text, name, pii=meta.get("pii"))
        column.checks = list(old_checks.get(name, [])) if same else []
        column.not_null = same and "not_null" in constraints
        columns.append(column)
    default_checks(columns, config, {c.name: 1 for c in columns if not c.not_null})
    for c in columns:
        category = config.personal_data.category_of(c.name, c.data_type)
        if c.pii is None and category:
            c.pii = {"category": category, "treatment": "hashed"}
    return model_yaml(model, description, columns), (contract or {}).get("dataset"), columns

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
from mesh_platform.core.sql import quote_ident
from mesh_platform.governance.config import GovernanceConfig
from mesh_platform.scaffold.plan import ScaffoldError

KEY = re.compile(r"(^|_)id$")


def portable_type(data_type: str) -> str:
    """How generated SQL and model YAML spell a type so that both engines accept it: text is
    ``string`` (DuckDB reads it as VARCHAR; Spark wants a length for ``varchar``)."""
    return "string" if data_type == "varchar" else data_type


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
        quoted = quote_ident(raw_name)
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
            column.expression = f"{{{{ mesh.hash('{column.name}') }}}}"
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
        cast_to = portable_type(c.data_type)
        lines.append(f"{indent}cast({c.expression} as {cast_to}) as {c.name}{comma}  -- {desc}")
    return "\n".join(lines)


def _cte(tree, name: str):
    from sqlglot import exp

    for cte in tree.find_all(exp.CTE):
        if cte.alias == name:
            return cte.this
    return None


def _strip_jinja(sql: str) -> tuple[str, list[str]]:
    """The SQL with Jinja expressions replaced by placeholders ``__jinja_<n>`` and statements
    removed, keeping every line where it was (so sqlglot's line numbers are the file's); and
    the expressions, by ``n``."""
    found: list[str] = []

    def replace(m: re.Match) -> str:
        newlines = "\n" * m[0].count("\n")
        if m[0][:2] != "{{":
            return newlines
        found.append(m[0])
        return f"{newlines}__jinja_{len(found) - 1}"

    return _JINJA.sub(replace, sql), found


_BLOCK = re.compile(r"\{%-?\s*(end)?(for|if)\b")


def _jinja_blocks(sql: str) -> list[tuple[str, int, int]]:
    """(kind, first line, last line) of every Jinja ``for`` and ``if`` block."""
    blocks, stack = [], []
    for m in _BLOCK.finditer(sql):
        line = sql.count("\n", 0, m.start()) + 1
        if not m[1]:
            stack.append((m[2], line))
        elif stack:
            kind, start = stack.pop()
            blocks.append((kind, start, line))
    blocks += [(kind, start, sql.count("\n") + 1) for kind, start in stack]
    return sorted(blocks, key=lambda b: b[1])


def _refuse_jinja_columns(
    sql: str, expressions, jinja: list[str], model: str, where: str | None
) -> None:
    """Columns the final select makes with Jinja cannot be read without rendering the model:
    refuse them, naming the file and line, instead of inventing a column."""
    from sqlglot import exp

    where = where or f"model {model}"
    blocks = _jinja_blocks(sql)
    fix = (
        "write each column of the final select out as "
        "`cast(<expression> as <type>) as <name>,  -- <what it is>` (a loop can stay in an "
        "earlier CTE), then re-run `mesh new sync`"
    )
    for expr in expressions:
        lines = {i.meta["line"] for i in expr.find_all(exp.Identifier) if "line" in i.meta}
        for kind, first, last in blocks:
            if any(first <= line <= last for line in lines):
                raise ScaffoldError(
                    f"{where}:{first}: cannot infer the columns of a Jinja `{kind}` block in "
                    f"the final select; {fix}"
                )
        if "__jinja_" in expr.alias_or_name:
            line = min(lines) if lines else "?"
            name = re.sub(r"__jinja_(\d+)", lambda m: jinja[int(m[1])], expr.alias_or_name)
            raise ScaffoldError(
                f"{where}:{line}: cannot infer the name of column `{name}`, written with "
                f"Jinja; {fix}"
            )


def parse_port_sql(sql: str, model: str, where: str | None = None) -> list[tuple[str, str, str]]:
    """(name, data_type, description) of every column of an output-port model's SQL.

    ``where`` (the SQL file, relative to the repo) is named in errors with the line."""
    import sqlglot
    from sqlglot import exp

    text, jinja = _strip_jinja(sql)
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ScaffoldError(
            f"{where or 'model ' + model}: cannot read its SQL ({exc}); fix the SQL"
        ) from None
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
    _refuse_jinja_columns(sql, select.expressions, jinja, model, where)
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
        lines.append(f"        data_type: {portable_type(c.data_type)}")
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
        lines.append(f"  - name: {c.name}")
        if c.data_type:  # an imported dbt model may declare no type for a column
            lines.append(f"    data_type: {c.data_type}")
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


def _pii_of(column: Mapping[str, Any]) -> Any:
    meta = (column.get("config") or {}).get("meta") or column.get("meta") or {}
    return meta.get("pii")


def _is_jinja(text: Any) -> bool:
    return isinstance(text, str) and "{{" in text


def _load_round_trip(text: str | None, what: str) -> tuple[Any, int, int]:
    if not text:
        return None, 4, 2
    try:
        return yaml_io.round_trip_load(text)
    except Exception as exc:  # ruamel raises several error types; all mean "not YAML"
        raise ScaffoldError(
            f"{what} is not valid YAML ({str(exc).splitlines()[0]}); fix it first"
        ) from None


def derive_port_files(
    sql: str,
    model: str,
    description: str,
    old_yaml: str | None,
    old_contract: str | None,
    config: GovernanceConfig,
    where: str | None = None,
) -> tuple[str, str | None, list[Column]]:
    """The model YAML merged with the columns of the port SQL, the contract's ``dataset`` (or
    None) and the columns (with the Soda checks still valid for them).

    A merge, not a rewrite: sync owns the model's column list (names and order from the SQL),
    each column's ``data_type`` and its description (unless that is a Jinja ``{{ doc(...) }}``
    reference, which is kept), and adds what a new column needs (a ``pii`` classification).
    Everything else — other models, ``unit_tests``, ``data_tests``, constraints, ``meta``,
    ``config``, comments, key order, styles — is kept as it is; a YAML already in step with the
    SQL comes back byte for byte.
    """
    parsed = parse_port_sql(sql, model, where)
    doc, sequence, offset = _load_round_trip(old_yaml, f"the model YAML of {model}")
    entry = None
    if isinstance(doc, Mapping):
        entry = next(
            (
                m
                for m in doc.get("models") or []
                if isinstance(m, Mapping) and m.get("name") == model
            ),
            None,
        )
    old_cols = {c["name"]: c for c in (entry or {}).get("columns") or [] if "name" in c}
    contract = yaml_io.safe_load(old_contract) if old_contract else {}
    old_checks = {c["name"]: c.get("checks") or [] for c in (contract or {}).get("columns") or []}
    old_types = {c["name"]: c.get("data_type") for c in (contract or {}).get("columns") or []}
    columns = []
    for name, data_type, text in parsed:
        old = old_cols.get(name) or {}
        was = old.get("data_type") or old_types.get(name) or ""
        same = normalize_type(was) == data_type
        constraints = {
            c.get("type") for c in old.get("constraints") or [] if isinstance(c, Mapping)
        }
        column = Column(name, data_type, text, name, pii=_pii_of(old))
        column.checks = list(old_checks.get(name, [])) if same else []
        column.not_null = "not_null" in constraints
        columns.append(column)
    default_checks(columns, config, {c.name: 1 for c in columns if not c.not_null})
    for c in columns:
        category = config.personal_data.category_of(c.name, c.data_type)
        if c.pii is None and category:
            c.pii = {"category": category, "treatment": "hashed"}
    dataset = (contract or {}).get("dataset")
    if entry is None:
        fresh = model_yaml(model, description, columns)
        if doc is None:
            return fresh, dataset, columns
        if not isinstance(doc, Mapping) or not isinstance(doc.get("models"), list):
            raise ScaffoldError(
                f"the model YAML of {model} has no `models:` list; fix it, then re-run "
                "`mesh new sync`"
            )
        doc["models"].append(yaml_io.round_trip_load(fresh)[0]["models"][0])
        return yaml_io.round_trip_dump(doc, sequence, offset), dataset, columns
    _merge_model(entry, description, columns, old_cols)
    text = yaml_io.round_trip_dump(doc, sequence, offset)
    if yaml_io.safe_load(text) == yaml_io.safe_load(old_yaml):
        text = old_yaml  # nothing changed: not a byte moves
    return text, dataset, columns


def _merge_model(entry, description: str, columns: Sequence[Column], old_cols) -> None:
    """Update ``entry`` (a round-trip mapping) in place with what sync owns."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not entry.get("description"):
        entry["description"] = description
    config = entry.get("config")
    if config is None:
        config = _flow_map({"contract": _flow_map({"enforced": True})})
        _insert_before(entry, "config", config, "columns")
    elif isinstance(config, Mapping) and "contract" not in config:
        config["contract"] = _flow_map({"enforced": True})
    seq = entry.get("columns")
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
        entry["columns"] = seq
    merged = []
    for c in columns:
        old = old_cols.get(c.name)
        item = old if isinstance(old, CommentedMap) else CommentedMap(name=c.name)
        if not _is_jinja(item.get("description")) and item.get("description") != c.description:
            _set(item, "description", c.description, after="name")
        if normalize_type(str(item.get("data_type") or "")) != c.data_type:
            _set(item, "data_type", portable_type(c.data_type), after="description")
        if c.pii is not None and _pii_of(item) is None:
            cfg = item.get("config")
            if cfg is None:
                item["config"] = _flow_map({"meta": _flow_map({"pii": _flow_map(dict(c.pii))})})
            else:
                cfg.setdefault("meta", _flow_map({}))["pii"] = _flow_map(dict(c.pii))
        merged.append(item)
    _replace_items(seq, merged)


def _replace_items(seq, merged: list) -> None:
    """Make round-trip sequence ``seq`` hold ``merged``, each item keeping its comments."""
    if [id(i) for i in seq] == [id(i) for i in merged]:
        return
    comments = {id(item): seq.ca.items.get(i) for i, item in enumerate(seq)}
    seq.ca.items.clear()
    seq[:] = merged
    for i, item in enumerate(merged):
        if comments.get(id(item)) is not None:
            seq.ca.items[i] = comments[id(item)]


def _flow_map(values: Mapping[str, Any]):
    from ruamel.yaml.comments import CommentedMap

    out = CommentedMap(values)
    out.fa.set_flow_style()
    return out


def _set(item, key: str, value: Any, after: str) -> None:
    """Set ``key``, placing a new key right after ``after`` (the generated order)."""
    if key in item:
        if item[key] != value:
            item[key] = value
        return
    keys = list(item)
    position = keys.index(after) + 1 if after in keys else len(keys)
    item.insert(position, key, value)


def _insert_before(mapping, key: str, value: Any, before: str) -> None:
    keys = list(mapping)
    mapping.insert(keys.index(before) if before in keys else len(keys), key, value)


def merge_contract(
    old_contract: str | None,
    dataset: str,
    address: str,
    version: int,
    columns: Sequence[Column],
) -> str:
    """The Soda contract merged with the port's columns: sync owns the column list, each
    column's ``data_type``, and its ``checks`` only where the type changed (dropped: they were
    written for the old type) or a new key column needs its ``missing`` check. The dataset,
    description, dataset-level checks, filters and any other key are kept as they are."""
    fresh = soda_contract(dataset, address, version, columns)
    doc, sequence, offset = _load_round_trip(old_contract, f"the Soda contract of {address}")
    if not isinstance(doc, Mapping):
        return fresh
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    new_doc = yaml_io.round_trip_load(fresh)[0]
    for i, key in enumerate(("dataset", "description", "columns", "checks")):
        if key not in doc:
            doc.insert(min(i, len(doc)), key, new_doc[key])

    old = {c["name"]: c for c in doc.get("columns") or [] if isinstance(c, Mapping)}
    generated = {c["name"]: c for c in new_doc["columns"]}
    merged = []
    for c in columns:
        item = old.get(c.name)
        if not isinstance(item, CommentedMap):
            merged.append(generated[c.name])
            continue
        _set(item, "data_type", c.data_type, after="name")
        if not c.checks:
            item.pop("checks", None)
        elif item.get("checks") != c.checks:
            _set(item, "checks", generated[c.name]["checks"], after="data_type")
        merged.append(item)
    seq = doc["columns"]
    if not isinstance(seq, CommentedSeq):
        doc["columns"] = seq = CommentedSeq()
    _replace_items(seq, merged)
    text = yaml_io.round_trip_dump(doc, sequence, offset)
    if yaml_io.safe_load(text) == yaml_io.safe_load(old_contract):
        return old_contract
    return text

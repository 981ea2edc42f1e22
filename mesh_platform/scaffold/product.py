"""``mesh new product`` and ``mesh new sync``: a product governed from its first minute.

A new product gets its descriptor, a staging model over its input (an operational source, or
another domain's output port read as a dbt source with ``meta.mesh_port`` — which draws the
lineage), the output-port model with an enforced contract and documented columns, its Soda
contract and a test. Columns come from the input itself, so the product materializes, verifies
and publishes as generated; the team then edits the port's SQL and the descriptor, and
``mesh new sync`` re-derives the model YAML and the Soda contract from that SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from mesh_platform.core.address import PortAddress
from mesh_platform.core.contracts import read_contract_document
from mesh_platform.core.descriptor import DataProduct, load_descriptor
from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.manifest import domain_models, load_mesh_manifest
from mesh_platform.governance.config import GovernanceConfig, load_governance
from mesh_platform.governance.engine import declared_ports_leniently
from mesh_platform.scaffold import columns as cols
from mesh_platform.scaffold import names, registry
from mesh_platform.scaffold.paths import model_path
from mesh_platform.scaffold.plan import Plan, ScaffoldError
from mesh_platform.scaffold.render import flow, render
from mesh_platform.scaffold.sources import (
    OperationalSource,
    UpstreamPort,
    describe_operational,
    sample_operational,
    validate_operational,
)

PORTS_LOCATION = (
    "read_parquet('{{{{ env_var('MESH_PORTS_DIR', '../data/ports') }}}}/{domain}/{{name}}/"
    "v{version}/current.parquet')"
)


@dataclass(frozen=True)
class ProductOptions:
    description: str = ""
    eager: bool | None = None  # default: eager when reading a port, else a daily schedule
    cron: str = "0 4 * * *"
    freshness_hours: float = 26


@dataclass
class _Input:
    """One input of a new product, as the scaffold wires it."""

    system: str  # the dbt source
    table: str
    entry: dict  # its descriptor input_ports entry
    key: list[str]  # its asset key
    described: str
    block: str  # the sources YAML: the source with this table, or only the table
    table_block: str | None
    staged: list  # staging columns
    nulls: dict
    upstream: UpstreamPort | None = None
    source: OperationalSource | None = None
    staging: str = ""
    existing_staging: str | None = None
    columns: list = None  # its port columns
    cte: str = ""

    @property
    def port(self) -> bool:
        return self.upstream is not None


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str | OperationalSource) else list(value)


def plan_new_product(
    env: MeshEnvironment,
    domain: str,
    name: str,
    from_port: str | Sequence[str] | None = None,
    source: OperationalSource | Sequence[OperationalSource] | None = None,
    options: ProductOptions = ProductOptions(),  # noqa: B008 - frozen, never mutated
) -> Plan:
    """Every file ``mesh new product`` writes; raises :class:`ScaffoldError` before any.

    Inputs: other domains' output ports (``from_port``) and operational sources (``source``),
    one or several of each. Each gets its dbt source and staging model; the first input is the
    port's grain and the others are joined to it on a key column both have (else left for the
    team to join, with a TODO in the SQL and a note)."""
    names.check_domain(env, domain)
    names.check_name("product", name)
    from_ports, sources = _as_list(from_port), _as_list(source)
    if not from_ports and not sources:
        raise ScaffoldError(
            "give at least one input: --from-port DOMAIN.PORT (another domain's output port) "
            "or --source KIND:PATH / --source-kind with --path (an operational source)"
        )
    config = load_governance(env.governance_dir)
    manifest = load_mesh_manifest(env)
    spec = load_domain_spec(env, domain)
    _check_new_product(env, manifest, domain, name)
    plan = Plan(env.repo_root)
    models = model_path(domain)
    inputs = [_port_input(env, manifest, domain, a) for a in from_ports]
    inputs += [_source_input(env, domain, s, config) for s in sources]
    seen: dict[tuple[str, str], int] = {}
    for i in inputs:
        if (i.system, i.table) in seen:
            raise ScaffoldError(f"input {i.entry['value']} is given twice; give it once")
        seen[(i.system, i.table)] = 1
        i.staging = f"stg_{i.system}__{i.table}"
        # another domain may have a model of the same name: model names are per domain project
        mine = {n["name"] for n in domain_models(manifest, domain).values()}
        i.existing_staging = domain if i.staging in mine else None
        i.columns = _port_columns(i.staged, i.existing_staging, manifest, domain, i.staging, config)
        cols.default_checks(i.columns, config, i.nulls)
    first = inputs[0]
    address = f"{domain}.{name}"
    sources_file = f"{models}/staging/_{domain}__sources.yml"
    for i in inputs:
        plan.write(
            sources_file,
            registry.sources_add(
                plan.current(sources_file), i.system, i.block, i.table, i.table_block
            ),
        )
        if i.existing_staging is None:
            plan.write(
                f"{models}/staging/{i.staging}.sql",
                render("staging.sql.j2", source=i.system, table=i.table, columns=i.staged),
            )
            plan.write(
                f"{models}/staging/{i.staging}.yml",
                render(
                    "staging.yml.j2",
                    model=i.staging,
                    description=f"The {i.described}, one row per source row, typed and renamed.",
                    columns=[
                        cols.Column(c.name, c.data_type, c.description, c.name) for c in i.staged
                    ],
                ),
            )
    port_cols, ctes, joins = _combine(inputs, config, plan.notes)
    pii = any(isinstance(c.pii, dict) for c in port_cols)
    described = [f"port {i.upstream.address}" if i.port else i.source.described for i in inputs]
    input_desc = described[-1]
    if len(described) > 1:
        input_desc = f"{', the '.join(described[:-1])} and the {input_desc}"
    description = " ".join(options.description.split()) or (
        f"{name.replace('_', ' ').capitalize()}: built by the {domain} domain from the "
        f"{input_desc}. Say here what one row is, where it comes from and who it is for."
    )
    sql = render(
        "port.sql.j2",
        address=address,
        domain=domain,
        name=name,
        ctes=ctes,
        cte=first.cte,
        joins=joins,
        select=cols.render_select(port_cols),
    )
    plan.write(f"{models}/marts/{name}.sql", sql)
    plan.write(f"{models}/marts/{name}.yml", cols.model_yaml(name, description, port_cols))
    plan.write(
        f"domains/{domain}/contracts/{name}.yaml",
        cols.soda_contract(f"{domain}/marts/{name}", address, 1, port_cols),
    )
    any_port = any(i.port for i in inputs)
    eager = options.eager if options.eager is not None else not sources
    if eager and not any_port:
        raise ScaffoldError(
            "--eager reacts to upstream ports, but this product reads an operational source; "
            "use a --cron schedule"
        )
    descriptor = render(
        "product.yaml.j2",
        name=name,
        domain=domain,
        description=description,
        team=spec.owner.team,
        contact=spec.owner.contact,
        tier="aggregate" if any_port else "source-aligned",
        classification="confidential" if pii else "internal",
        inputs=[i.entry for i in inputs],
        freshness_hours=_number(options.freshness_hours),
        eager=eager,
        cron=options.cron,
    )
    _validate_descriptor(descriptor, domain, name)
    plan.write(f"domains/{domain}/products/{name}.yaml", descriptor)
    plan.write(
        f"tests/domains/{domain}/test_{name}.py",
        render(
            "test_product.py.j2",
            address=address,
            domain=domain,
            name=name,
            inputs=[
                (i.staging, repr(i.key[1:] if i.port else i.key).replace("'", '"')) for i in inputs
            ],
        ),
    )
    if plan.current("tests/domains/__init__.py") is None:
        plan.write("tests/domains/__init__.py", "")
    if plan.current(f"tests/domains/{domain}/__init__.py") is None:
        plan.write(f"tests/domains/{domain}/__init__.py", "")
    upstream_domains = sorted({i.upstream.address.split(".")[0] for i in inputs if i.port})
    before = (
        f"`mesh materialize {' '.join(upstream_domains)}` once, then " if upstream_domains else ""
    )
    plan.notes.insert(
        0,
        f"next: {before}`mesh materialize {domain}` builds, verifies and publishes {address}; "
        f"edit {models}/marts/{name}.sql and domains/{domain}/products/{name}.yaml, then "
        f"`mesh new sync {domain} {name}`",
    )
    from_sources = {c.name for i in inputs if not i.port for c in i.columns}
    for c in port_cols:
        missing = any("missing" in check for check in c.checks)
        if c.name in from_sources and cols.is_key(c.name, config) and not c.not_null and missing:
            plan.notes.append(
                f"column {c.name} has nulls in today's source data: its `missing` check will "
                "fail until the SQL filters or fixes them"
            )
    return plan


def _port_input(env: MeshEnvironment, manifest, domain: str, address: str) -> _Input:
    upstream = _upstream_port(env, manifest, domain, address)
    up = PortAddress.parse(upstream.address)
    system, table = f"{domain}_{up.domain}_ports", up.port
    entry = {"kind": "output_port", "key": "port", "value": upstream.address}
    entry["description"] = flow(f"Output port {upstream.address} v{upstream.version}.")
    return _Input(
        system=system,
        table=table,
        entry=entry,
        key=["upstream domain", up.domain, up.port],
        described=f"port {upstream.address} v{upstream.version}",
        block=_port_source_block(domain, system, up.domain, upstream, table),
        table_block=_port_table_block(upstream, table),
        staged=cols.port_columns(upstream.node, upstream.contract, upstream.description),
        nulls={},
        upstream=upstream,
    )


def _source_input(env, domain: str, source: OperationalSource, config) -> _Input:
    names.check_name("operational system", source.system)
    names.check_name("source table", source.table)
    validate_operational(env, source)
    raw, _ = describe_operational(env, source, [])
    staged = cols.staging_columns(raw, config)
    samples = sample_operational(env, source)  # classification looks at values too
    for c in staged:
        c.samples = samples.get(c.expression.strip('"'))
    entry = {"kind": source.kind, "key": "source", "value": f"{source.system}.{source.table}"}
    entry["description"] = flow(f"The {source.described}.")
    return _Input(
        system=source.system,
        table=source.table,
        entry=entry,
        key=[domain, source.system, source.table],
        described=source.described,
        block=_operational_source_block(domain, source, raw),
        table_block=_operational_table_block(source, raw),
        staged=staged,
        nulls=_null_counts(env, source, staged, config),
        source=source,
    )


def _combine(inputs: list[_Input], config: GovernanceConfig, notes: list[str]):
    """The port's columns, the CTEs (name, staging model, TODO comment) and the join lines.

    One input: its columns, as they are. Several: the first input is the grain; each other
    input is left-joined on the first key column it shares with the first input, adding its
    columns the port does not have yet; with no shared key it is left unjoined, with a TODO."""
    taken: set[str] = {"final", "source"}
    for i in inputs:
        cte = i.table if i.table not in taken else f"{i.table}_rows"
        while cte in taken:
            cte += "_2"
        taken.add(cte)
        i.cte = cte
    first = inputs[0]
    if len(inputs) == 1:
        return first.columns, [(first.cte, first.staging, "")], []
    port = [_qualified(c, first.cte) for c in first.columns]
    ctes = [(first.cte, first.staging, "")]
    joins = []
    for i in inputs[1:]:
        have = {c.name for c in port}
        names_here = {c.name for c in i.columns}
        keys = [
            c.name for c in first.columns if c.name in names_here and cols.is_key(c.name, config)
        ]
        if not keys:
            ctes.append(
                (
                    i.cte,
                    i.staging,
                    f"TODO(mesh new product): join {i.cte} to {first.cte}: they share no key "
                    "column to join on. Then list its columns in the final select and run "
                    "`mesh new sync`.",
                )
            )
            notes.append(
                f"decide: how {i.staging} joins {first.staging} (no shared key column); until "
                f"then {i.cte} is read but unjoined (see the TODO in the port SQL)"
            )
            continue
        key = keys[0]
        ctes.append(
            (
                i.cte,
                i.staging,
                f"TODO(mesh new product): joined to {first.cte} on {key}, the key both have. "
                f"Check that {i.cte} has at most one row per {key} (else aggregate it here "
                "first: a left join would repeat rows), or change the join.",
            )
        )
        joins.append(f"left join {i.cte} on {first.cte}.{key} = {i.cte}.{key}")
        added = [_qualified(c, i.cte) for c in i.columns if c.name not in have]
        for c in added:
            c.checks = [ch for ch in c.checks if "missing" not in ch]  # a left join may miss
            c.not_null = False
        port += added
        skipped = sorted(names_here & have - {key})
        notes.append(
            f"decide: {i.staging} is left-joined on {key}; check it has at most one row per "
            f"{key}"
            + (f"; its columns {', '.join(skipped)} clash and are left out" if skipped else "")
        )
    return port, ctes, joins


def _qualified(c: cols.Column, cte: str) -> cols.Column:
    """The column read from CTE ``cte`` (several inputs can have a column of that name)."""
    expression = c.expression
    if expression == c.name:
        expression = f"{cte}.{c.name}"
    elif expression == f"{{{{ mesh.hash('{c.name}') }}}}":
        expression = f"{{{{ mesh.hash('{cte}.{c.name}') }}}}"
    return cols.Column(
        c.name, c.data_type, c.description, expression, c.pii, list(c.checks), c.not_null
    )


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def load_domain_spec(env: MeshEnvironment, domain: str):
    return load_domain(env.domains_dir / domain).spec


def _check_new_product(env: MeshEnvironment, manifest, domain: str, name: str) -> None:
    if (env.domains_dir / domain / "products" / f"{name}.yaml").exists():
        raise ScaffoldError(
            f"product {domain}.{name} already exists (domains/{domain}/products/{name}.yaml); "
            "pick another name or edit it"
        )
    if f"{domain}.{name}" in declared_ports_leniently(env.domains_dir):
        raise ScaffoldError(f"output port {domain}.{name} is already declared; pick another name")
    # Model names are per domain project: another domain may have a model of the same name.
    taken = any(n["name"] == name for n in domain_models(manifest, domain).values())
    if taken or (env.repo_root / model_path(domain, "marts", f"{name}.sql")).exists():
        raise ScaffoldError(
            f"domain {domain} already has a dbt model named {name!r} (dbt_project/{domain}/); "
            "pick another product name"
        )


def _upstream_port(env: MeshEnvironment, manifest, domain: str, address: str) -> UpstreamPort:
    up_domain, port = names.check_address(address)
    if up_domain == domain:
        raise ScaffoldError(
            f"{address} is a port of domain {domain} itself; inside a domain, read the model "
            "behind it with `ref` instead"
        )
    declared = declared_ports_leniently(env.domains_dir)
    if address not in declared:
        known = sorted(a for a in declared if a.startswith(f"{up_domain}."))
        hint = (
            f"ports of {up_domain}: {', '.join(known)}"
            if known
            else (
                f"domain {up_domain} does not exist"
                if up_domain not in names.known_domains(env)
                else f"domain {up_domain} declares no ports"
            )
        )
        raise ScaffoldError(f"unknown upstream port {address!r}; {hint} (see `mesh products`)")
    upstream = load_domain(env.domains_dir / up_domain)
    product, out = next(
        (p, o)
        for p in upstream.products
        for o in sorted(p.output_ports, key=lambda o: -o.version)
        if o.name == port
    )
    node = next(
        (n for n in domain_models(manifest, up_domain).values() if n["name"] == out.model), None
    )
    if node is None:
        raise ScaffoldError(f"port {address} has no dbt model {out.model!r}; run `mesh prepare`")
    contract_file = upstream.path / out.contract
    contract = read_contract_document(contract_file) if contract_file.exists() else None
    return UpstreamPort(address, out.version, out.model, node, contract, product.name)


def _port_columns(staged, existing_staging, manifest, domain, staging, config: GovernanceConfig):
    """The port's columns: the staging columns (those an existing staging model really has)."""
    port = [
        cols.Column(
            c.name, c.data_type, c.description, c.name, c.pii, list(c.checks), c.not_null, c.samples
        )
        for c in staged
    ]
    if existing_staging is not None:
        node = next(n for n in domain_models(manifest, domain).values() if n["name"] == staging)
        documented = set(node.get("columns") or {})
        port = [c for c in port if c.name in documented]
        if not port:
            raise ScaffoldError(
                f"staging model {staging} already exists but documents none of the input's "
                "columns; document them in its YAML first"
            )
    return cols.classify(port, config)


def _null_counts(env, source, staged, config) -> dict[str, int]:
    keys = [c.expression.strip('"') for c in staged if cols.is_key(c.name, config)]
    _, nulls = describe_operational(env, source, keys) if keys else ([], {})
    by_raw = {c.expression.strip('"'): c.name for c in staged}
    return {by_raw[k]: v for k, v in nulls.items() if k in by_raw}


def _port_source_block(domain, system, up_domain, upstream: UpstreamPort, table) -> str:
    location = PORTS_LOCATION.format(domain=up_domain, version=upstream.version)
    return "\n".join(
        [
            f"  - name: {system}",
            "    description: >",
            f"      Published output ports of the {up_domain} domain (read-only Parquet "
            f"snapshots), as read by the {domain} domain. Named per consuming domain because "
            "dbt source names are project-wide.",
            "    config:",
            "      meta:",
            f"        external_location: {flow(location)}",
            "    tables:",
            *_port_table_block(upstream, table).splitlines(),
        ]
    )


def _port_table_block(upstream: UpstreamPort, table: str) -> str:
    return "\n".join(
        [
            f"      - name: {table}",
            f"        description: {flow(f'{upstream.address} v{upstream.version}.')}",
            "        config:",
            "          meta:",
            f"            mesh_port: {upstream.address}",
        ]
    )


def _operational_source_block(
    domain: str, source: OperationalSource, columns: list[tuple[str, str]] = ()
) -> str:
    lines = [
        f"  - name: {source.system}",
        "    description: >",
        f"      Operational system {source.system} of the {domain} domain.",
    ]
    if source.kind == "database":
        lines += ["    config:", "      meta:", f"        plugin: {source.connection}"]
    lines += ["    tables:", *_operational_table_block(source, columns).splitlines()]
    return "\n".join(lines)


def _operational_table_block(source: OperationalSource, columns: list[tuple[str, str]] = ()) -> str:
    """The source table's entry, with the columns it has today: what its schema-drift check
    compares the source with before every build (mesh_platform/core/source_schema.py)."""
    lines = [
        f"      - name: {source.table}",
        f"        description: {flow(f'The {source.described}.')}",
        "        config:",
        "          meta:",
    ]
    if source.kind == "database":
        lines.append(f"            table: {source.table}")
    else:
        lines += ["            external_location: >-", f"              {source.location}"]
    if columns:
        lines.append("        columns:")
        lines += [
            f"          - {{name: {flow(name)}, data_type: {flow(str(typ).lower())}}}"
            for name, typ in columns
        ]
    return "\n".join(lines)


def _validate_descriptor(text: str, domain: str, name: str) -> None:
    try:
        DataProduct.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ScaffoldError(
            f"the descriptor for {domain}.{name} would be invalid: "
            f"{str(exc).splitlines()[0]}; check --cron and the other options"
        ) from None


def plan_sync(env: MeshEnvironment, domain: str, name: str) -> Plan:
    """Re-derive every output port's model YAML and Soda contract from its SQL."""
    names.check_domain(env, domain)
    path = env.domains_dir / domain / "products" / f"{name}.yaml"
    if not path.exists():
        raise ScaffoldError(
            f"unknown product {domain}.{name}: no {path.relative_to(env.repo_root)}"
        )
    product = load_descriptor(path, expected_domain=domain)
    config = load_governance(env.governance_dir)
    plan = Plan(env.repo_root)
    for port in product.output_ports:
        base = model_path(domain, "marts", port.model)
        sql = plan.current(f"{base}.sql")
        if sql is None:
            raise ScaffoldError(f"output port {product.address(port)}: no {base}.sql")
        contract_rel = f"domains/{domain}/{port.contract}"
        old_contract = plan.current(contract_rel)
        text, dataset, columns = cols.derive_port_files(
            sql,
            port.model,
            product.description,
            plan.current(f"{base}.yml"),
            old_contract,
            config,
            where=f"{base}.sql",
        )
        plan.write(f"{base}.yml", text)
        plan.write(
            contract_rel,
            cols.merge_contract(
                old_contract,
                dataset or f"{domain}/marts/{port.model}",
                product.address(port),
                port.version,
                columns,
            ),
        )
    plan.notes.append(f"next: `mesh lint {domain}` and `mesh materialize {domain}`")
    return plan

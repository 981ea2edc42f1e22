"""``mesh new product`` and ``mesh new sync``: a product governed from its first minute.

A new product gets its descriptor, a staging model over its input (an operational source, or
another domain's output port read as a dbt source with ``meta.mesh_port`` — which draws the
lineage), the output-port model with an enforced contract and documented columns, its Soda
contract and a test. Columns come from the input itself, so the product materializes, verifies
and publishes as generated; the team then edits the port's SQL and the descriptor, and
``mesh new sync`` re-derives the model YAML and the Soda contract from that SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from mesh_platform.core.address import PortAddress
from mesh_platform.core.contracts import read_contract_document
from mesh_platform.core.descriptor import DataProduct, load_descriptor
from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.manifest import domain_models, load_manifest
from mesh_platform.governance.config import GovernanceConfig, load_governance
from mesh_platform.governance.engine import declared_ports_leniently
from mesh_platform.scaffold import columns as cols
from mesh_platform.scaffold import names, registry
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


def plan_new_product(
    env: MeshEnvironment,
    domain: str,
    name: str,
    from_port: str | None = None,
    source: OperationalSource | None = None,
    options: ProductOptions = ProductOptions(),  # noqa: B008 - frozen, never mutated
) -> Plan:
    """Every file ``mesh new product`` writes; raises :class:`ScaffoldError` before any."""
    names.check_domain(env, domain)
    names.check_name("product", name)
    if (from_port is None) == (source is None):
        raise ScaffoldError(
            "give exactly one input: --from-port DOMAIN.PORT (another domain's output port) or "
            "--source-kind with --system/--table (an operational source)"
        )
    config = load_governance(env.governance_dir)
    manifest = load_manifest(env.dbt_project_dir)
    spec = load_domain_spec(env, domain)
    _check_new_product(env, manifest, domain, name)
    plan = Plan(env.repo_root)
    models = f"dbt_project/models/{domain}"
    if from_port:
        upstream = _upstream_port(env, manifest, domain, from_port)
        up = PortAddress.parse(upstream.address)
        up_domain, up_port = up.domain, up.port
        system, table = f"{domain}_{up_domain}_ports", up_port
        input_entry = {"kind": "output_port", "key": "port", "value": upstream.address}
        input_entry["description"] = flow(f"Output port {upstream.address} v{upstream.version}.")
        input_key = ["upstream domain", up_domain, up_port]
        staged = cols.port_columns(upstream.node, upstream.contract, upstream.description)
        block = _port_source_block(domain, system, up_domain, upstream, table)
        table_block = _port_table_block(upstream, table)
    else:
        names.check_name("operational system", source.system)
        names.check_name("source table", source.table)
        validate_operational(env, source)
        keys = []
        raw, nulls = describe_operational(env, source, keys)
        staged = cols.staging_columns(raw, config)
        samples = sample_operational(env, source)
        for c in staged:
            c.samples = samples.get(c.expression.strip('"'))
        nulls = _null_counts(env, source, staged, config)
        input_entry = {
            "kind": source.kind,
            "key": "source",
            "value": f"{source.system}.{source.table}",
        }
        input_entry["description"] = flow(f"The {source.described}.")
        input_key = [domain, source.system, source.table]
        block = _operational_source_block(domain, source)
        table_block = None
    staging = f"stg_{system}__{table}" if from_port else f"stg_{source.system}__{source.table}"
    existing_staging = _model_names(manifest).get(staging)
    if existing_staging is not None and existing_staging != domain:
        raise ScaffoldError(f"dbt model {staging} exists in domain {existing_staging}; rename")
    port_cols = _port_columns(staged, existing_staging, manifest, domain, staging, config)
    if not from_port:
        cols.default_checks(port_cols, config, nulls)
    else:
        cols.default_checks(port_cols, config, {})
    address = f"{domain}.{name}"
    sources_file = f"{models}/staging/_{domain}__sources.yml"
    sources_text = plan.current(sources_file)
    if from_port:
        plan.write(
            sources_file,
            registry.sources_add(sources_text, system, block, table, table_block),
        )
    else:
        table_entry = _operational_table_block(source)
        plan.write(
            sources_file,
            registry.sources_add(sources_text, source.system, block, source.table, table_entry),
        )
    if existing_staging is None:
        plan.write(
            f"{models}/staging/{staging}.sql",
            render(
                "staging.sql.j2",
                source=system if from_port else source.system,
                table=table if from_port else source.table,
                columns=staged,
            ),
        )
        described = (
            f"port {upstream.address} v{upstream.version}" if from_port else source.described
        )
        plan.write(
            f"{models}/staging/{staging}.yml",
            render(
                "staging.yml.j2",
                model=staging,
                description=f"The {described}, one row per source row, typed and renamed.",
                columns=[cols.Column(c.name, c.data_type, c.description, c.name) for c in staged],
            ),
        )
    pii = any(isinstance(c.pii, dict) for c in port_cols)
    input_desc = f"port {from_port}" if from_port else source.described
    description = " ".join(options.description.split()) or (
        f"{name.replace('_', ' ').capitalize()}: built by the {domain} domain from the "
        f"{input_desc}. Say here what one row is, where it comes from and who it is for."
    )
    cte = table if from_port else source.table
    cte = cte if cte not in {"final", "source"} else f"{cte}_rows"
    sql = render(
        "port.sql.j2",
        address=address,
        domain=domain,
        name=name,
        cte=cte,
        staging=staging,
        select=cols.render_select(port_cols),
    )
    plan.write(f"{models}/marts/{name}.sql", sql)
    plan.write(f"{models}/marts/{name}.yml", cols.model_yaml(name, description, port_cols))
    plan.write(
        f"domains/{domain}/contracts/{name}.yaml",
        cols.soda_contract(f"{domain}/marts/{name}", address, 1, port_cols),
    )
    eager = options.eager if options.eager is not None else bool(from_port)
    if eager and not from_port:
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
        tier="aggregate" if from_port else "source-aligned",
        classification="confidential" if pii else "internal",
        input=input_entry,
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
            staging=staging,
            input_key=repr(input_key[1:] if from_port else input_key).replace("'", '"'),
        ),
    )
    if plan.current("tests/domains/__init__.py") is None:
        plan.write("tests/domains/__init__.py", "")
    if plan.current(f"tests/domains/{domain}/__init__.py") is None:
        plan.write(f"tests/domains/{domain}/__init__.py", "")
    first = f"`mesh materialize {from_port.split('.')[0]}` once, then " if from_port else ""
    plan.notes.append(
        f"next: {first}`mesh materialize {domain}` builds, verifies and publishes {address}; "
        f"edit {models}/marts/{name}.sql and domains/{domain}/products/{name}.yaml, then "
        f"`mesh new sync {domain} {name}`"
    )
    for c in port_cols:
        if cols.is_key(c.name, config) and not c.not_null and not from_port:
            plan.notes.append(
                f"column {c.name} has nulls in today's source data: its `missing` check will "
                "fail until the SQL filters or fixes them"
            )
    return plan


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def load_domain_spec(env: MeshEnvironment, domain: str):
    return load_domain(env.domains_dir / domain).spec


def _model_names(manifest) -> dict[str, str]:
    return {
        n["name"]: n["fqn"][1] for n in manifest["nodes"].values() if n["resource_type"] == "model"
    }


def _check_new_product(env: MeshEnvironment, manifest, domain: str, name: str) -> None:
    if (env.domains_dir / domain / "products" / f"{name}.yaml").exists():
        raise ScaffoldError(
            f"product {domain}.{name} already exists (domains/{domain}/products/{name}.yaml); "
            "pick another name or edit it"
        )
    if f"{domain}.{name}" in declared_ports_leniently(env.domains_dir):
        raise ScaffoldError(f"output port {domain}.{name} is already declared; pick another name")
    owner = _model_names(manifest).get(name)
    if owner or (env.dbt_project_dir / "models" / domain / "marts" / f"{name}.sql").exists():
        raise ScaffoldError(
            f"a dbt model named {name!r} already exists (domain {owner or domain}); dbt model "
            "names are project-wide, pick another product name"
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


def _operational_source_block(domain: str, source: OperationalSource) -> str:
    lines = [
        f"  - name: {source.system}",
        "    description: >",
        f"      Operational system {source.system} of the {domain} domain.",
    ]
    if source.kind == "database":
        lines += ["    config:", "      meta:", f"        plugin: {source.connection}"]
    lines += ["    tables:", *_operational_table_block(source).splitlines()]
    return "\n".join(lines)


def _operational_table_block(source: OperationalSource) -> str:
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
        base = f"dbt_project/models/{domain}/marts/{port.model}"
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
        )
        plan.write(f"{base}.yml", text)
        plan.write(
            contract_rel,
            cols.soda_contract(
                dataset or f"{domain}/marts/{port.model}",
                product.address(port),
                port.version,
                columns,
            ),
        )
    plan.notes.append(f"next: `mesh lint {domain}` and `mesh materialize {domain}`")
    return plan

"""Removing and renaming domains and products — refused while other products consume them.

Consumers are found the way ``mesh diff`` finds them (:mod:`mesh_platform.core.lineage`):
other products whose models read a port as a dbt source with ``meta.mesh_port``.
"""

from __future__ import annotations

import re
from pathlib import Path

from mesh_platform.core.domain import load_all_domains, load_domain
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.lineage import downstream_consumers
from mesh_platform.core.manifest import (
    domain_models,
    in_domain_ancestors,
    load_mesh_manifest,
    node_file,
)
from mesh_platform.scaffold import names, registry
from mesh_platform.scaffold.plan import Plan, ScaffoldError


def consumers_of(env: MeshEnvironment, domain: str, product: str | None = None) -> list[str]:
    """'domain.product (reads port address)' of every outside product reading the ports."""
    manifest = load_mesh_manifest(env)
    domains = load_all_domains(env.domains_dir)
    own = next(d for d in domains if d.name == domain)
    found = set()
    for p in own.products:
        if product and p.name != product:
            continue
        for port in p.output_ports:
            address = p.address(port)
            for c in downstream_consumers(manifest, domains, address, port.version):
                outside = (
                    c.domain != domain
                    if product is None
                    else (c.domain, c.product)
                    != (
                        domain,
                        product,
                    )
                )
                if c.direct and outside:
                    who = f"{c.domain}.{c.product}" if c.product else f"{c.domain} model {c.model}"
                    found.add(f"{who} (reads {address} v{port.version})")
    return sorted(found)


def _refuse_if_consumed(env, domain, product, force: bool, verb: str) -> list[str]:
    consumers = consumers_of(env, domain, product)
    if consumers and not force:
        what = f"product {domain}.{product}" if product else f"domain {domain}"
        raise ScaffoldError(
            f"cannot {verb} {what}: downstream consumers read its ports — "
            f"{'; '.join(consumers)}. Move them off first, or pass --force to break them"
        )
    return consumers


# What dbt and Python generate inside a domain's folders: never part of a scaffolding plan.
_GENERATED = {"__pycache__", "target", "dbt_packages", "logs", "package-lock.yml"}


def _files(root: Path, folder: str) -> list[Path]:
    base = root / folder
    return (
        sorted(
            p
            for p in base.rglob("*")
            if p.is_file() and not _GENERATED & set(p.relative_to(base).parts)
        )
        if base.exists()
        else []
    )


def _product_files(env: MeshEnvironment, domain: str, product: str) -> tuple[list[str], dict]:
    """Files owned by one product (descriptor, contracts, its own models, its test) and the
    source tables only it reads, as {sources file: [(source, table)]}."""
    manifest = load_mesh_manifest(env)
    dom = load_domain(env.domains_dir / domain)
    prod = next(p for p in dom.products if p.name == product)
    models = {n["name"]: (uid, n) for uid, n in domain_models(manifest, domain).items()}
    mine, others = set(), set()
    for p in dom.products:
        for port in p.output_ports:
            if port.model not in models:
                continue
            uid = models[port.model][0]
            (mine if p.name == product else others).update(
                {uid, *in_domain_ancestors(manifest, uid)}
            )
    owned = mine - others
    files = [f"domains/{domain}/products/{product}.yaml"]
    files += [f"domains/{domain}/{port.contract}" for port in prod.output_ports]
    files.append(f"tests/domains/{domain}/test_{product}.py")
    for uid in owned:
        node = manifest["nodes"][uid]
        files.append(node_file(node))
        if node.get("patch_path"):
            files.append(node_file(node, patch=True))
    still_read = {
        parent
        for uid, node in domain_models(manifest, domain).items()
        if uid not in owned
        for parent in node["depends_on"]["nodes"]
    }
    tables: dict[str, list[tuple[str, str]]] = {}
    for uid in owned:
        for parent in manifest["nodes"][uid]["depends_on"]["nodes"]:
            source = manifest["sources"].get(parent)
            if source and parent not in still_read:
                file = node_file(source)
                tables.setdefault(file, []).append((source["source_name"], source["name"]))
    return sorted(set(files)), tables


def plan_remove_product(env: MeshEnvironment, domain: str, product: str, force: bool) -> Plan:
    _check_product(env, domain, product)
    consumers = _refuse_if_consumed(env, domain, product, force, "remove")
    plan = Plan(env.repo_root)
    files, tables = _product_files(env, domain, product)
    for file in files:
        plan.delete(file)
    for file, entries in tables.items():
        text = plan.current(file)
        for source, table in entries:
            text = registry.sources_remove(text, source, table) if text else None
        if text is None:
            plan.delete(file)
        else:
            plan.write(file, text)
    _note_broken(plan, consumers)
    plan.notes.append(f"published snapshots under data/ports/{domain}/ are kept; delete by hand")
    return plan


def plan_remove_domain(env: MeshEnvironment, domain: str, force: bool) -> Plan:
    names.check_domain(env, domain)
    consumers = _refuse_if_consumed(env, domain, None, force, "remove")
    plan = Plan(env.repo_root)
    for folder in (f"domains/{domain}", f"dbt_project/{domain}", f"tests/domains/{domain}"):
        for path in _files(env.repo_root, folder):
            plan.delete(path.relative_to(env.repo_root))
    plan.write(
        "workspace.yaml", registry.workspace_with(plan.current("workspace.yaml"), drop=domain)
    )
    registry.sync_helm_values(plan, env, drop=domain)
    team = load_domain(env.domains_dir / domain).spec.owner.team
    teams = plan.current("governance/teams.yaml") or ""
    if re.search(rf"^\s+{re.escape(team)}:.*domain:\s*{re.escape(domain)}\b", teams, re.M):
        plan.write("governance/teams.yaml", registry.teams_remove(teams, team))
    _note_broken(plan, consumers)
    plan.notes.append(f"data of {domain} under the data directory is kept; delete it by hand")
    return plan


def _token(old: str) -> re.Pattern[str]:
    """``old`` as a name token: not inside another word, a team name or an e-mail address."""
    return re.compile(rf"(?<![a-z0-9@.\-]){re.escape(old)}(?![a-z0-9@\-])")


def plan_rename_product(env: MeshEnvironment, domain: str, old: str, new: str, force: bool) -> Plan:
    _check_product(env, domain, old)
    names.check_name("product", new)
    from mesh_platform.scaffold.product import _check_new_product

    _check_new_product(env, load_mesh_manifest(env), domain, new)
    consumers = _refuse_if_consumed(env, domain, old, force, "rename")
    plan = Plan(env.repo_root)
    token = _token(old)
    files, _ = _product_files(env, domain, old)
    for file in files:
        path = env.repo_root / file
        if not path.exists() or "/staging/" in file or "/intermediate/" in file:
            continue
        target = Path(file).with_name(token.sub(new, Path(file).name))
        plan.delete(file)
        plan.write(target, token.sub(new, path.read_text()))
    _note_broken(plan, consumers)
    return plan


def plan_rename_domain(env: MeshEnvironment, old: str, new: str, force: bool) -> Plan:
    names.check_domain(env, old)
    names.check_new_domain(env, new)
    consumers = _refuse_if_consumed(env, old, None, force, "rename")
    plan = Plan(env.repo_root)
    token = _token(old)
    for folder in (f"domains/{old}", f"dbt_project/{old}", f"tests/domains/{old}"):
        for path in _files(env.repo_root, folder):
            rel = path.relative_to(env.repo_root)
            parts = [token.sub(new, part) for part in rel.parts]
            plan.delete(rel)
            plan.write(Path(*parts), token.sub(new, path.read_text()))
    plan.write(
        "workspace.yaml",
        registry.workspace_with(plan.current("workspace.yaml"), add=new, drop=old),
    )
    team = load_domain(env.domains_dir / old).spec.owner.team
    registry.sync_helm_values(plan, env, add=(new, team), drop=old)
    teams = plan.current("governance/teams.yaml") or ""
    if re.search(rf"^\s+{re.escape(team)}:.*domain:\s*{re.escape(old)}\b", teams, re.M):
        plan.write("governance/teams.yaml", registry.teams_rename_domain(teams, team, new))
    _note_broken(plan, consumers)
    plan.notes.append(f"ports are now addressed {new}.<port>: run `mesh materialize {new}`")
    return plan


def _check_product(env: MeshEnvironment, domain: str, product: str) -> None:
    names.check_domain(env, domain)
    if not (env.domains_dir / domain / "products" / f"{product}.yaml").exists():
        known = sorted(p.stem for p in (env.domains_dir / domain / "products").glob("*.yaml"))
        raise ScaffoldError(
            f"unknown product {domain}.{product}; products of {domain}: "
            f"{', '.join(known) or 'none'}"
        )


def _note_broken(plan: Plan, consumers: list[str]) -> None:
    if consumers:
        plan.notes.append("forced: these consumers are now broken — " + "; ".join(consumers))

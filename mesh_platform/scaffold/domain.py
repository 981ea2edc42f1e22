"""``mesh new domain``: a code location, a dbt project, its registrations and its test."""

from __future__ import annotations

from collections.abc import Sequence

from mesh_platform.core.engine import DEFAULT_ENGINE, EngineError, check_engine
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.governance.config import load_governance
from mesh_platform.scaffold import names, registry
from mesh_platform.scaffold.members import register_team_members
from mesh_platform.scaffold.plan import Plan, ScaffoldError
from mesh_platform.scaffold.render import render


def plan_new_domain(
    env: MeshEnvironment,
    name: str,
    team: str,
    contact: str,
    description: str = "",
    members: Sequence[str] = (),
    engine: str = DEFAULT_ENGINE,
) -> Plan:
    """Every file ``mesh new domain`` writes; raises :class:`ScaffoldError` before any.

    ``members`` become members of the owner team in the access plane's users.yaml: without one,
    nobody reads the domain's products in full or decides requests for them but a steward."""
    names.check_new_domain(env, name)
    names.check_team(team)
    try:
        engine = check_engine(engine, "--engine")
    except EngineError as exc:
        raise ScaffoldError(str(exc)) from None
    config = load_governance(env.governance_dir)
    names.check_email(contact, config.teams.contact_domains)
    registered = config.teams.teams.get(team)
    if registered and registered.domain not in (None, name):
        raise ScaffoldError(
            f"owner team {team!r} is registered for domain {registered.domain} in "
            f"governance/teams.yaml; a domain needs its own team (e.g. '{name.replace('_', '-')}"
            "-team')"
        )
    description = " ".join(description.split()) or (
        f"The {name.replace('_', ' ')} domain of the mesh: its team owns and publishes the "
        "data products listed under products/."
    )
    plan = Plan(env.repo_root)
    values = {
        "name": name,
        "team": team,
        "contact": contact,
        "description": description,
        "engine": engine,
    }
    base = f"domains/{name}"
    plan.write(f"{base}/domain.yaml", render("domain.yaml.j2", **values))
    plan.write(
        f"{base}/definitions.py",
        render("definitions.py.j2", title=name.replace("_", " ").capitalize()),
    )
    plan.write(f"{base}/__init__.py", render("__init__.py.j2"))
    plan.write(f"{base}/products/.gitkeep", "")
    plan.write(f"{base}/contracts/.gitkeep", "")
    dbt = f"dbt_project/{name}"  # the domain's own dbt project
    plan.write(f"{dbt}/dbt_project.yml", render("dbt_project.yml.j2", **values))
    plan.write(f"{dbt}/packages.yml", render("packages.yml.j2"))
    plan.write(f"{dbt}/macros/generate_schema_name.sql", render("generate_schema_name.sql.j2"))
    plan.write(f"{dbt}/models/_{name}__groups.yml", render("groups.yml.j2", **values))
    plan.write("workspace.yaml", registry.workspace_with(plan.current("workspace.yaml"), add=name))
    registry.sync_helm_values(plan, env, add=(name, team))
    if registered is None:
        teams = plan.current("governance/teams.yaml") or ""
        plan.write("governance/teams.yaml", registry.teams_add(teams, team, contact, name))
        plan.notes.append(
            f"registered team {team} for domain {name} in governance/teams.yaml (the ownership "
            "policy requires registered teams): the governance group reviews it with this change"
        )
    register_team_members(plan, env, team, members, email_domain=contact.rpartition("@")[2])
    if not members:
        plan.notes.append(
            f"team {team} has no member in the access plane: add users with `--member USER` "
            "next time, or list them under `team:`/`teams:` in governance/access/users.yaml"
        )
    if plan.current("tests/domains/__init__.py") is None:
        plan.write("tests/domains/__init__.py", "")
    plan.write(f"tests/domains/{name}/__init__.py", "")
    plan.write(f"tests/domains/{name}/test_definitions.py", render("test_domain.py.j2", **values))
    plan.notes.append(
        f"next: `mesh new product {name} NAME` (from an operational source or another "
        "domain's port)"
    )
    return plan

"""Validate what a user types before anything is written: names, e-mails, teams, addresses."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mesh_platform.core.address import PortAddress
from mesh_platform.core.descriptor import ADDRESS_PATTERN, NAME_PATTERN
from mesh_platform.core.domain import discover_domain_dirs
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.scaffold.plan import ScaffoldError

TEAM_PATTERN = r"^[a-z][a-z0-9-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Names dbt, Python or DuckDB would trip over as a folder, module or schema.
RESERVED = {"main", "staging", "intermediate", "marts", "test", "tests", "domains", "dbt"}
MAX_NAME = 40


def check_name(kind: str, name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name or "") or "__" in name or name.endswith("_"):
        raise ScaffoldError(
            f"invalid {kind} name {name!r}: use snake_case — a lowercase letter, then lowercase "
            "letters, digits and single underscores (e.g. 'merch' or 'daily_sales')"
        )
    if len(name) > MAX_NAME:
        raise ScaffoldError(f"invalid {kind} name {name!r}: at most {MAX_NAME} characters")
    if name in RESERVED:
        raise ScaffoldError(
            f"invalid {kind} name {name!r}: it is reserved ({', '.join(sorted(RESERVED))}); "
            "choose another"
        )
    return name


def check_team(team: str) -> str:
    if not re.fullmatch(TEAM_PATTERN, team or ""):
        raise ScaffoldError(
            f"invalid owner team {team!r}: use lowercase letters, digits and dashes "
            "(e.g. 'merch-team')"
        )
    return team


def check_email(contact: str, company_domains: Iterable[str]) -> str:
    domains = list(company_domains)
    if not re.fullmatch(EMAIL_PATTERN, contact or ""):
        raise ScaffoldError(
            f"invalid contact e-mail {contact!r}: give the team's mailbox, e.g. "
            f"'team@{domains[0] if domains else 'example.com'}'"
        )
    if domains and contact.rsplit("@", 1)[1] not in domains:
        raise ScaffoldError(
            f"contact {contact!r} is not a company address: governance/teams.yaml accepts "
            f"{', '.join(domains)}; use the team's mailbox there"
        )
    return contact


def known_domains(env: MeshEnvironment) -> list[str]:
    return [d.name for d in discover_domain_dirs(env.domains_dir)]


def check_new_domain(env: MeshEnvironment, name: str) -> str:
    check_name("domain", name)
    if name in known_domains(env) or (env.domains_dir / name).exists():
        raise ScaffoldError(
            f"domain {name!r} already exists (domains/{name}/); pick another name or add "
            f"products to it with `mesh new product {name} NAME`"
        )
    if (env.domain_dbt_dir(name) / "dbt_project.yml").exists():
        raise ScaffoldError(
            f"dbt_project/{name}/ already holds a dbt project though domains/{name}/ does not; "
            "remove the leftover folder or pick another name"
        )
    return name


def check_domain(env: MeshEnvironment, name: str) -> str:
    domains = known_domains(env)
    if name not in domains:
        raise ScaffoldError(
            f"unknown domain {name!r}; domains: {', '.join(domains) or 'none'} "
            f"(create it with `mesh new domain {name or 'NAME'} --owner TEAM --contact EMAIL`)"
        )
    return name


def check_address(address: str) -> tuple[str, str]:
    if not re.fullmatch(ADDRESS_PATTERN, address or ""):
        raise ScaffoldError(
            f"invalid port address {address!r}: write <domain>.<port>, e.g. sales.orders"
        )
    parsed = PortAddress.parse(address)
    return parsed.domain, parsed.port

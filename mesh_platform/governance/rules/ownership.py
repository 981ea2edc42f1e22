"""Ownership: every product and port has an owner team, registered, with a reachable contact."""

from __future__ import annotations

from collections.abc import Iterator

from mesh_platform.core.descriptor import Owner
from mesh_platform.governance.context import MeshContext
from mesh_platform.governance.report import Finding


def evaluate(ctx: MeshContext) -> Iterator[Finding]:
    teams = ctx.config.teams
    for domain, product in ctx.products:
        file = f"domains/{domain.name}/products/{product.name}.yaml"
        owners: list[tuple[str | None, str, Owner | None]] = [(None, "owner", product.owner)]
        owners += [
            (f"{product.address(p)} v{p.version}", f"output_ports[{i}].owner", p.owner)
            for i, p in enumerate(product.output_ports)
            if p.owner
        ]
        for port, field, owner in owners:
            if owner is None:
                yield ctx.finding(
                    "ownership.owner",
                    domain.name,
                    product.name,
                    port,
                    field,
                    "the product has no owner team and contact.",
                    f"add `owner: {{team: <team>, contact: <e-mail>}}` to {file}.",
                )
                continue
            registered = teams.teams.get(owner.team)
            if registered is None:
                yield ctx.finding(
                    "ownership.registered-team",
                    domain.name,
                    product.name,
                    port,
                    f"{field}.team",
                    f"owner team {owner.team!r} is not registered with the governance group.",
                    f"use a team listed in governance/teams.yaml ({', '.join(sorted(teams.teams))})"
                    " or ask the governance group to register it.",
                )
            elif registered.domain not in (None, domain.name):
                yield ctx.finding(
                    "ownership.registered-team",
                    domain.name,
                    product.name,
                    port,
                    f"{field}.team",
                    f"owner team {owner.team!r} is registered for domain {registered.domain}, "
                    f"not {domain.name}.",
                    f"name a team of domain {domain.name} in {file} (governance/teams.yaml).",
                )
            mail_domain = owner.contact.rsplit("@", 1)[-1]
            if mail_domain not in teams.contact_domains:
                yield ctx.finding(
                    "ownership.registered-team",
                    domain.name,
                    product.name,
                    port,
                    f"{field}.contact",
                    f"contact {owner.contact!r} is not a company address "
                    f"({', '.join(teams.contact_domains)}), so consumers cannot reach the team.",
                    f"set a team mailbox at {teams.contact_domains[0]} in {file}.",
                )

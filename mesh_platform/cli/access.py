"""``mesh access``: request access to a product, decide requests, grants, tokens, audit."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from mesh_platform.access.audit import read_entries
from mesh_platform.access.grants import load_grants
from mesh_platform.cli.identity import cli_user
from mesh_platform.cli.output import console, print_pending

access_app = typer.Typer(help="Request, approve and audit access to data products.")

AS_USER = typer.Option(
    None, "--as", help="Who you are (default: $MESH_USER; trusted operators only, see README)."
)


def _service():
    from mesh_platform.access.service import AccessService

    return AccessService()


def _who(user: str | None) -> str | None:
    return cli_user(user)


@access_app.command("request")
def request(
    target: str = typer.Argument(..., help="DOMAIN.PRODUCT or a port address"),
    reason: str = typer.Option(..., "--reason", help="Why you need it (the owner decides on it)."),
    pii: bool = typer.Option(
        False, "--pii", help="Also ask for the columns holding personal data."
    ),
    user: str = AS_USER,
) -> None:
    """Ask the owner for read access; they approve or deny with `mesh access approve|deny`."""
    service = _service()
    req = service.request(_who(user), target, reason, pii=pii, channel="cli")
    console().print(
        f"request {req.id} sent: {req.user} → {req.target}"
        + (" (with personal data)" if pii else "")
        + f", pending since {req.requested_at}",
        highlight=False,
    )
    who = service.approvers(req.target)
    console().print(
        f"who decides: {', '.join(who['owners']) or '(no member)'} "
        f"({', '.join(who['teams'])}) or a steward ({', '.join(who['stewards']) or 'none'}), "
        f"with `mesh access approve|deny {req.id}`; follow it with "
        f"`mesh access requests --as {req.user}`",
        highlight=False,
    )


@access_app.command("requests")
def requests(
    status: str = typer.Option(None, help="pending | approved | denied"),
    mine: bool = typer.Option(
        False, "--to-decide", help="Only those you may decide (owner/steward)."
    ),
    user: str = AS_USER,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List access requests."""
    service = _service()
    who = _who(user)
    found = service.requests(status=status, decidable_by=who if mine else None)
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in found], indent=2))
        return
    table = Table(title="Access requests")
    for column in (
        "id",
        "user",
        "target",
        "pii",
        "status",
        "requested at",
        "reason",
        "decided by",
        "decided at",
        "note",
    ):
        table.add_column(column)
    for r in found:
        table.add_row(
            r.id,
            r.user,
            r.target,
            "yes" if r.pii else "",
            r.status,
            r.requested_at,
            r.reason,
            r.decided_by or "",
            r.decided_at or "",
            r.note,
        )
    console().print(table)
    print_pending(who, service)


@access_app.command("approve")
def approve(
    request_id: str = typer.Argument(...),
    note: str = typer.Option("", "--note", help="A note for the requester."),
    user: str = AS_USER,
) -> None:
    """Approve a request (owner team of the product, or a steward); the grant applies at once."""
    decided = _service().decide(request_id, _who(user), approve=True, note=note)
    console().print(decided.decision(), highlight=False)
    console().print(f"{decided.user} may now read {decided.target}")


@access_app.command("deny")
def deny(
    request_id: str = typer.Argument(...),
    note: str = typer.Option(..., "--note", help="Why (the requester sees it)."),
    user: str = AS_USER,
) -> None:
    """Deny a request, saying why."""
    decided = _service().decide(request_id, _who(user), approve=False, note=note)
    console().print(decided.decision(), highlight=False)


@access_app.command("revoke")
def revoke(
    principal: str = typer.Argument(..., help="user:ID, team:TEAM or role:ROLE"),
    target: str = typer.Argument(..., help="DOMAIN.PRODUCT or a port address"),
    user: str = AS_USER,
) -> None:
    """Remove a grant (owner team of the product, or a steward); applies at the next query."""
    removed = _service().revoke(principal, target, _who(user))
    console().print(f"revoked {removed} grant(s) of {principal} on {target}")


@access_app.command("grants")
def grants(
    user: str = typer.Option(None, "--user", help="Only grants covering this user."),
) -> None:
    """The grants in force."""
    service = _service()
    principals = service.user(user).principals() if user else None
    table = Table(title=f"Grants ({service.env.access_dir / 'grants.yaml'})")
    for column in ("principal", "target", "pii", "granted by", "at", "reason"):
        table.add_column(column)
    for g in load_grants(service.env.access_dir):
        if principals is None or g.principal in principals:
            table.add_row(
                g.principal,
                g.target,
                "yes" if g.pii else "",
                g.granted_by,
                g.granted_at[:19],
                g.reason,
            )
    console().print(table)


@access_app.command("whoami")
def whoami(user: str = AS_USER) -> None:
    """Who you are and which ports you may read."""
    service = _service()
    me = service.user(_who(user))
    console().print(
        f"{me.id} ({me.name}, team {', '.join(sorted(me.member_of)) or '-'}, "
        f"roles {', '.join(me.roles) or '-'})"
    )
    for label, (_, decision) in sorted(service.policy.readable_ports(me).items()):
        pii = "" if decision.personal_data else " (personal data hidden)"
        console().print(f"  can read {label}{pii} — {decision.why}")
    print_pending(me.id, service)


@access_app.command("team")
def team(
    name: str = typer.Argument(..., help="A team, e.g. the owner team `mesh catalog show` names."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who is in a team, which products it owns, and who approves access requests for them."""
    found = _service().team(name)
    if as_json:
        found = {**found, "pending": [r.__dict__ for r in found["pending"]]}
        typer.echo(json.dumps(found, indent=2))
        return
    out = console()
    table = Table(title=f"Team {found['team']}")
    for column in ("member", "name", "email", "roles"):
        table.add_column(column)
    for m in found["members"]:
        table.add_row(m["id"], m["name"], m["email"], ", ".join(m["roles"]))
    out.print(table)
    out.print(f"owns: {', '.join(found['products']) or 'no product'}", highlight=False)
    out.print(
        f"approves access requests for them: {', '.join(found['approvers']) or 'nobody'} "
        f"(members of {found['team']}, and stewards: {', '.join(found['stewards']) or 'none'})",
        highlight=False,
    )
    pending = found["pending"]
    out.print(
        f"{len(pending)} pending access request(s) for its products"
        + (": " + ", ".join(f"{r.id} ({r.user} → {r.target})" for r in pending) if pending else ""),
        highlight=False,
    )


@access_app.command("token")
def token(
    user_id: str = typer.Argument(..., help="The user the token identifies."),
    days: int = typer.Option(30, "--days", min=1, max=365, help="Days until it expires."),
) -> None:
    """Issue a bearer token for the HTTP API (printed once; only its hash is stored)."""
    typer.echo(_service().issue_token(user_id, ttl_days=days))


@access_app.command("tokens")
def list_tokens(user: str = typer.Option(None, "--user", help="Only this user's tokens.")) -> None:
    """Tokens issued (id, user, issued, expires): never the tokens themselves."""
    from datetime import UTC, datetime

    from mesh_platform.access.tokens import list_tokens as stored_tokens

    service = _service()
    now = datetime.now(UTC)
    table = Table("id", "user", "issued", "expires", "state")
    for record in stored_tokens(service.env.data_dir, user):
        state = "expired" if record.expired(now) else "valid"
        table.add_row(
            record.id, record.user, record.issued_at or "-", record.expires_at or "never", state
        )
    console().print(table)


@access_app.command("revoke-token")
def revoke_token(
    token_id: str = typer.Argument(None, help="The token's id (from `mesh access tokens`)."),
    user: str = typer.Option(None, "--user", help="Revoke every token of this user instead."),
) -> None:
    """Revoke one API token, or all of a user's; requests with it are refused from now on."""
    if (token_id is None) == (user is None):
        raise typer.BadParameter("give a token id or --user USER (one of the two)")
    removed = _service().revoke_tokens(token_id=token_id, user_id=user)
    for record in removed:
        console().print(f"revoked token {record.id} of {record.user}")


@access_app.command("audit")
def audit(
    user: str = typer.Option(None, "--user", help="Only this user's entries."),
    product: str = typer.Option(
        None, "--product", help="Only entries touching DOMAIN.PRODUCT / a port."
    ),
    limit: int = typer.Option(50, min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every read, denial, refusal and decision: who, what, when, rows."""
    from mesh_platform.core.environment import get_environment

    entries = [
        e
        for e in read_entries(get_environment().data_dir)
        if (not user or e.user == user)
        and (
            not product
            or any(p.startswith(product + " ") or p.split(" ")[0] == product for p in e.ports)
        )
    ][-limit:]
    if as_json:
        typer.echo(json.dumps([e.__dict__ for e in entries], indent=2, default=list))
        return
    table = Table(title="Audit log")
    for column in ("at", "user", "action", "channel", "ports", "rows", "detail"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e.at[:23],
            e.user,
            e.action,
            e.channel,
            ", ".join(e.ports),
            "" if e.rows is None else str(e.rows),
            e.detail[:80],
        )
    console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(access_app, name="access")

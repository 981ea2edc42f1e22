"""``mesh catalog``: find data products and everything needed to use one."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from mesh_platform.build.run_history import open_instance
from mesh_platform.catalog import SearchIndex
from mesh_platform.catalog.cache import load_catalog
from mesh_platform.catalog.detail import access_summary, product_detail
from mesh_platform.cli.identity import cli_user
from mesh_platform.cli.output import console, print_pending

catalog_app = typer.Typer(help="Search the data products of the mesh and show one in full.")


@catalog_app.command("search")
def search(
    text: str = typer.Argument(..., help='What you are looking for, e.g. "revenue by region".'),
    limit: int = typer.Option(10, min=1, help="How many products to show."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rank products by name, tags, domain, owner, column names and documentation."""
    catalog = load_catalog()
    hits = SearchIndex(catalog).search(text, limit=limit)
    if as_json:
        typer.echo(json.dumps([{**h.__dict__, "matched": list(h.matched)} for h in hits], indent=2))
        return
    if not hits:
        console().print(f"no product matches {text!r}; try fewer or other words")
        raise typer.Exit(1)
    table = Table(title=f"Data products matching {text!r}")
    for column in ("#", "product", "owner", "matched", "description"):
        table.add_column(column)
    for rank, hit in enumerate(hits, 1):
        product = catalog.products[hit.key]
        table.add_row(
            str(rank),
            hit.key,
            product.owner_team or "(no owner)",
            ", ".join(hit.matched),
            product.description[:90] + ("…" if len(product.description) > 90 else ""),
        )
    console().print(table)
    console().print("details: mesh catalog show DOMAIN.PRODUCT")
    _pending_for_viewer(catalog)


def _pending_for_viewer(catalog) -> None:
    """An owner who searches is told what waits for them (when the CLI knows who they are)."""
    from mesh_platform.access.errors import AccessDenied, AccessError
    from mesh_platform.access.service import AccessService

    try:
        print_pending(cli_user(None), AccessService(catalog=catalog))
    except (AccessDenied, AccessError):
        return  # no identity here: searching needs none


@catalog_app.command("domains")
def domains(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every domain with its owner and products."""
    catalog = load_catalog()
    if as_json:
        typer.echo(json.dumps([d.__dict__ for d in catalog.domains.values()], indent=2))
        return
    table = Table(title="Domains")
    for column in ("domain", "owner", "contact", "products"):
        table.add_column(column)
    for d in catalog.domains.values():
        table.add_row(
            d.name, d.owner_team, d.owner_contact, ", ".join(p.split(".")[1] for p in d.products)
        )
    console().print(table)
    for problem in catalog.problems:
        console().print(f"[red]cannot read:[/] {problem}")


def _print_detail(detail: dict) -> None:
    out = console()
    out.print(f"[bold]{detail['key']}[/] — {detail['tier']}, {detail['classification']}")
    if detail.get("status") == "draft":
        out.print(
            f"[yellow]draft[/]: its schema may still change and other domains cannot read it "
            f"until its owner runs `mesh release {detail['key']}`"
        )
    out.print(detail["description"] or "(no description)")
    owner = detail["owner"]
    out.print(
        f"owner: {owner['team']} <{owner['contact']}>   tags: {', '.join(detail['tags']) or '-'}"
    )
    approvers = detail.get("approvers")
    if approvers:
        out.print(
            f"who approves access: {', '.join(approvers['owners']) or '(no member)'} "
            f"({', '.join(approvers['teams']) or 'no owner team'}) or a steward "
            f"({', '.join(approvers['stewards']) or 'none'}); "
            f"`mesh access team {approvers['teams'][0] if approvers['teams'] else 'TEAM'}`"
        )
    for caveat in detail.get("caveats") or []:
        out.print(f"[bold yellow]caveat:[/] {caveat}", highlight=False)
    fresh = detail["freshness"]
    if fresh:
        out.print(f"freshness: {fresh['status']} ({_freshness_facts(fresh)})")
    out.print(
        f"automation: {detail['automation']}"
        + (f"; partitioned {detail['partitioning']}" if detail["partitioning"] else "")
    )
    out.print("upstream: " + (", ".join(detail["upstream"]) or "operational systems only"))
    for inp in detail["inputs"]:
        if inp["kind"] != "output_port":
            out.print(f"  ← {inp['kind']} {inp['source']}")
    out.print("downstream (consumers): " + (", ".join(detail["downstream"]) or "none yet"))
    usage = detail["usage"]
    if usage:
        readers = ", ".join(f"{u} ({n})" for u, n in sorted(usage["readers"].items()))
        out.print(
            f"readers: {readers or 'none'}; {usage['reads']} reads, {usage['rows']:,} rows, {usage['denied']} denied"
        )
    for port in detail["ports"]:
        published = port["published"]
        state = (
            f"{published['rows']:,} rows, snapshot {published['snapshot_id']}"
            if published
            else "not published yet"
        )
        out.print(f"\n[bold]output port {port['label']}[/] — {state}")
        if port["deprecation_date"]:
            out.print(f"  deprecated: retired on {port['deprecation_date']}")
        compliance = port["compliance"]
        out.print(f"  compliance: {compliance['status']}")
        for finding in compliance["findings"]:
            out.print(
                f"    - [{finding.get('severity')}] {finding.get('policy')}: {finding.get('message')}"
            )
        access = port["access"]
        if access:
            hidden = (
                f"; personal data hidden: {', '.join(access['hidden_columns'])}"
                if access["hidden_columns"] and access["can_read"]
                else ""
            )
            verdict = "can read" if access["can_read"] else "no access"
            out.print(f"  your access ({access['user']}): {verdict} — {access['why']}{hidden}")
        table = Table(show_edge=False)
        for column in ("column", "type", "null", "personal data", "description"):
            table.add_column(column)
        for c in port["columns"]:
            pii = f"{c['pii_category']} ({c['pii_treatment']})" if c["personal"] else ""
            table.add_row(
                c["name"], c["data_type"], "yes" if c["nullable"] else "no", pii, c["description"]
            )
        out.print(table)
        history = port["history"]
        if history and history["runs"]:
            latest = history["runs"][0]
            failed = ", ".join(latest["failed_checks"]) or "none"
            out.print(
                f"  latest run {latest['run_id'][:8]} at {latest['at']}: checks {latest['checks_passed']} passed / "
                f"{latest['checks_failed']} failed (failed: {failed}); "
                + ("published" if latest["published"] else "NOT published")
            )
            marks = "".join(
                "✔" if r["published"] and not r["checks_failed"] else "✘"
                for r in reversed(history["runs"])
            )
            out.print(f"  history (oldest → newest): {marks}")
        if port["example"]:
            out.print(f'  example: mesh query "{port["example"]}" --as YOU')
    _print_request_hint(detail)


def _print_request_hint(detail: dict) -> None:
    """What the viewer does next: their pending request, or the exact command to request."""
    out = console()
    accesses = [p["access"] for p in detail["ports"] if p["access"]]
    if not accesses:
        return
    user = accesses[0]["user"]
    mine = detail.get("my_requests") or []
    for request in mine:
        out.print(f"your {request['text']}", highlight=False)
    if any(r["status"] == "pending" for r in mine):
        return
    blocked = not all(a["can_read"] for a in accesses)
    hidden = any(a["can_read"] and a["hidden_columns"] for a in accesses)
    if blocked or hidden:
        pii = " --pii" if hidden and not blocked else ""
        what = "request access" if blocked else "request the personal-data columns"
        out.print(
            f"{what}: mesh access request {detail['key']}{pii} "
            f'--reason "WHY YOU NEED IT" --as {user}',
            highlight=False,
        )


@catalog_app.command("show")
def show(
    key: str = typer.Argument(..., help="DOMAIN.PRODUCT, e.g. sales.orders"),
    user: str = typer.Option(None, "--as", help="Show what this user may read (or MESH_USER)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Description, owner, ports, schema, contract results and history, freshness, lineage."""
    from mesh_platform.access.service import AccessService

    service = AccessService()  # reads the catalog through the cache
    catalog = service.catalog
    catalog.product(key)  # unknown product: a clear error before touching Dagster
    user = cli_user(user)
    detail = product_detail(
        catalog,
        key,
        instance=open_instance(),
        usage=service.usage(),
        access=access_summary(service, user, key),
    )
    detail["approvers"] = service.approvers(key)
    if user:
        targets = {key, *(p.address for p in catalog.product(key).ports)}
        detail["my_requests"] = [
            {"id": r.id, "status": r.status, "text": r.decision()}
            for r in service.requests()
            if r.user == user and r.target in targets
        ]
    if as_json:
        typer.echo(json.dumps(detail, indent=2, default=str))
        return
    _print_detail(detail)
    print_pending(user, service)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")


def _freshness_facts(fresh: dict) -> str:
    """What the freshness status is measured from: the data's newest day when the product has
    a time column (or its inputs'), else only the publish time, and the SLO."""

    def hours(value) -> str:
        return f"{value:.1f} h ago" if value is not None else "never"

    basis = fresh.get("basis", "publish")
    age = fresh.get("publish_age_hours", fresh["age_hours"])
    published = f"published {hours(age)}" if age is not None else "not published yet"
    if basis == "data" and fresh.get("data_to"):
        span = f"{fresh['data_from']} to {fresh['data_to']}" if fresh.get("data_from") else ""
        facts = [f"newest data {fresh['data_to']}, {hours(fresh['age_hours'])}"]
        facts += [f"data {span}"] if span else []
    elif basis == "inputs" and fresh.get("data_to"):
        facts = [f"data no newer than its inputs' {fresh['data_to']}, {hours(fresh['age_hours'])}"]
    else:
        facts = ["data time unknown"]
    slo = f"SLO {fresh['slo_hours']:g} h" if fresh.get("slo_hours") else "no SLO"
    return "; ".join([*facts, published, slo])

"""The portal's server-rendered pages: domains, search, product, data preview, access requests,
sign-in. Signed out, a visitor sees catalog metadata only; data needs a signed-in user with a
grant, read through their guarded connection (channel ``portal``, audited)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from mesh_platform.access.errors import AccessDenied, AccessError, QueryRefused
from mesh_platform.access.identities import User
from mesh_platform.access.query import QueryError
from mesh_platform.catalog.catalog import CatalogError
from mesh_platform.catalog.search import FACETS, check_facets, facet_counts, narrow, stem
from mesh_platform.core.address import PortAddress
from mesh_platform.portal import auth, svg
from mesh_platform.portal import data as port_data
from mesh_platform.portal.api import NAME, REQUEST_ID

PREVIEW_ROWS = 50
SEARCH_RESULTS = 50
QUERY_ROWS = 200  # rows the preview's SQL box shows (the guarded path's row cap applies too)
# A product page with the user's request still pending reloads itself this often (no script).
PENDING_RECHECK_SECONDS = 15
_TOKEN = re.compile(r"[A-Za-z0-9]+")

router = APIRouter(include_in_schema=False)
DomainName = Annotated[str, Path(pattern=NAME, max_length=64)]
ProductName = Annotated[str, Path(pattern=NAME, max_length=64)]


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("user", auth.page_user(request))
    context.setdefault("csrf", auth.form_token(request))
    if "pending_count" not in context:  # an owner sees what waits for them in the navigation
        user = context["user"]
        service = _state(request).current().service
        context["pending_count"] = len(service.pending_to_decide(user.id)) if user else 0
    return request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status
    )


def _state(request: Request):
    return request.app.state.portal


def _signed_in(request: Request) -> User:
    user = auth.page_user(request)
    if user is None:
        raise HTTPException(401, auth.SIGN_IN_FIRST)
    return user


def highlight(text: str, matched: tuple[str, ...]) -> Markup:
    """``text`` with the words that matched the query (same stemming as search) marked."""

    def mark(match: re.Match[str]) -> str:
        word = stem(match[0].lower())
        hit = any(word.startswith(m) for m in matched)
        return f"<mark>{escape(match[0])}</mark>" if hit else str(escape(match[0]))

    out, last = [], 0
    for match in _TOKEN.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        out.append(mark(match))
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme) may follow a sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/")
def home(request: Request) -> Response:
    state = _state(request)
    catalog = state.current().catalog
    domains = [
        (domain, [catalog.products[key] for key in domain.products])
        for domain in catalog.domains.values()
    ]
    return _render(
        request,
        "index.html",
        domains=domains,
        health=state.health(),
        problems=catalog.problems,
        title="",
    )


FacetValue = Annotated[str, Query(max_length=100)]


@router.get("/search")
def search(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    domain: FacetValue = "",
    owner: FacetValue = "",
    tier: FacetValue = "",
    classification: FacetValue = "",
    health: FacetValue = "",
    tag: FacetValue = "",
) -> Response:
    """Ranked by relevance to ``q`` (all products, by name, without one), narrowed by facets."""
    state = _state(request)
    snapshot = state.current()
    catalog = snapshot.catalog
    healths = state.health()
    status = {key: h.status for key, h in healths.items()}
    chosen = check_facets(
        {
            "domain": domain,
            "owner": owner,
            "tier": tier,
            "classification": classification,
            "health": health,
            "tag": tag,
        }
    )
    if q.strip():
        ranked = snapshot.index.search(q, None)
        matched = {hit.key: hit.matched for hit in ranked}
        keys = [hit.key for hit in ranked]
    else:
        matched, keys = {}, sorted(catalog.products)
    shown = narrow(keys, catalog, chosen, status)
    hits = [
        {
            "product": catalog.products[key],
            "matched": matched.get(key, ()),
            "health": healths.get(key),
            "snippet": highlight(catalog.products[key].description, matched.get(key, ())),
        }
        for key in shown[:SEARCH_RESULTS]
    ]

    def facet_url(name: str, value: str | None) -> str:
        """This search with facet ``name`` set to ``value`` (None: without it)."""
        params = {"q": q.strip(), **chosen, name: value or ""}
        return "/search?" + urlencode({k: v for k, v in params.items() if v})

    return _render(
        request,
        "search.html",
        facet_url=facet_url,
        q=q,
        hits=hits,
        total=len(shown),
        facets=facet_counts(keys, catalog, chosen, status) if keys else {},
        facet_names=FACETS,
        chosen=chosen,
        searched=bool(q.strip() or chosen),
        title=f"Search: {q}" if q else "Browse products",
    )


@router.get("/scorecard")
def scorecard(request: Request) -> Response:
    """Every product of the mesh on one page: quality, freshness, documentation, compliance,
    usage."""
    state = _state(request)
    snapshot = state.current()
    healths = state.health()
    usage = snapshot.service.usage()
    rows = [
        {"product": product, "health": healths[key], "usage": usage.get(key)}
        for key, product in sorted(snapshot.catalog.products.items())
    ]
    return _render(request, "scorecard.html", rows=rows, title="Scorecard")


def _my_requests(service, user: User | None, key: str, ports) -> list:
    if user is None:
        return []
    targets = {key, *(p.address for p in ports)}
    return [r for r in service.requests() if r.user == user.id and r.target in targets]


def _product_page(
    request: Request, domain: str, product: str, status: int = 200, **extra: Any
) -> Response:
    user = auth.page_user(request)
    state = _state(request)
    key = f"{domain}.{product}"
    detail = state.detail(key, user.id if user else None)
    snapshot = state.current()
    entry = snapshot.catalog.product(key)
    requested = request.query_params.get("requested", "")
    return _render(
        request,
        "product.html",
        status=status,
        user=user,
        d=detail,
        lineage=svg.lineage(detail),
        plots={p["label"]: svg.history(p["history"]) for p in detail["ports"]},
        has_personal=any(p.personal_columns for p in entry.ports),
        my_requests=_my_requests(snapshot.service, user, key, entry.ports),
        approvers=snapshot.service.approvers(key),
        requested=requested if re.fullmatch(REQUEST_ID, requested) else "",
        recheck_seconds=PENDING_RECHECK_SECONDS,
        title=key,
        **extra,
    )


@router.get("/products/{domain}/{product}")
def product(request: Request, domain: DomainName, product: ProductName) -> Response:
    return _product_page(request, domain, product)


@router.post("/products/{domain}/{product}/request", dependencies=[Depends(auth.verify_form)])
def request_access(
    request: Request,
    domain: DomainName,
    product: ProductName,
    reason: Annotated[str, Form(max_length=2000)] = "",
    pii: Annotated[bool, Form()] = False,
) -> Response:
    user = _signed_in(request)
    key = f"{domain}.{product}"
    service = _state(request).current().service
    try:
        created = service.request(user.id, key, reason, pii, channel="portal")
    except (AccessError, AccessDenied) as exc:
        return _product_page(
            request, domain, product, status=400, form_error=str(exc), reason=reason
        )
    return RedirectResponse(
        f"/products/{domain}/{product}?requested={quote(created.id)}#access", status_code=303
    )


@router.get("/products/{domain}/{product}/preview")
def preview(
    request: Request,
    domain: DomainName,
    product: ProductName,
    port: Annotated[str | None, Query(pattern=NAME, max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Response:
    """The first rows of a port, read as the signed-in user (masked, audited)."""
    user = _signed_in(request)
    snapshot = _state(request).current()
    entry, port_entry = _own_port(snapshot, domain, product, port, version)
    columns = [c.name for c in port_entry.columns]
    with snapshot.service.connect(user.id, channel="portal") as con:
        try:
            result = port_data.read_port(con, port_entry, columns, PREVIEW_ROWS)
        except AccessDenied as exc:
            raise HTTPException(403, str(exc)) from None
    return _render(
        request,
        "preview.html",
        user=user,
        product=entry,
        port=port_entry,
        columns=result.table.column_names,
        rows=result.table.to_pylist(),
        hidden=result.hidden_columns,
        sql=f"select * from {port_entry.address} limit 10",
        title=f"Preview {port_entry.label}",
    )


def _own_port(snapshot, domain: str, product: str, port: str | None, version: int | None):
    """A published port of the product named in the path (404 otherwise)."""
    entry = snapshot.catalog.product(f"{domain}.{product}")
    name = port or entry.latest_ports()[0].name
    port_entry = snapshot.catalog.port(f"{domain}.{name}", version)
    if snapshot.catalog.product_of_port(port_entry.address).key != entry.key:
        raise HTTPException(404, f"{port_entry.address} is not a port of {entry.key}")
    if port_entry.published is None:
        raise HTTPException(404, f"port {port_entry.label} has not been published yet")
    return entry, port_entry


@router.get("/products/{domain}/{product}/download")
def download(
    request: Request,
    domain: DomainName,
    product: ProductName,
    format: Annotated[str, Query(pattern="^(csv|parquet)$")] = "csv",
    port: Annotated[str | None, Query(pattern=NAME, max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Response:
    """A port's rows as CSV or Parquet (up to the API's 100,000), read as the signed-in user
    exactly as ``GET /api/v1/ports/…/data`` reads them: masked, capped, audited."""
    user = _signed_in(request)
    snapshot = _state(request).current()
    _, port_entry = _own_port(snapshot, domain, product, port, version)
    columns = [c.name for c in port_entry.columns]
    with snapshot.service.connect(user.id, channel="portal") as con:
        try:
            result = port_data.read_port(con, port_entry, columns, port_data.MAX_LIMIT)
        except AccessDenied as exc:
            raise HTTPException(403, str(exc)) from None
    return port_data.attachment(result, format)


@router.post("/products/{domain}/{product}/query", dependencies=[Depends(auth.verify_form)])
def query(
    request: Request,
    domain: DomainName,
    product: ProductName,
    sql: Annotated[str, Form(max_length=20_000)] = "",
    port: Annotated[str | None, Query(pattern=NAME, max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> Response:
    """The preview's SQL box: one read-only query on the signed-in user's guarded connection —
    the path of ``POST /api/v1/query`` (guard, grants, masking, row cap, timeout, audit)."""
    user = _signed_in(request)
    snapshot = _state(request).current()
    entry, port_entry = _own_port(snapshot, domain, product, port, version)
    context: dict[str, Any] = {"sql": sql}
    status = 200
    with snapshot.service.connect(user.id, channel="portal") as con:
        try:
            if not sql.strip():
                raise QueryRefused("no SQL statement given: write one query, e.g. select …")
            result = con.run(sql, max_rows=QUERY_ROWS)
        except (QueryRefused, QueryError, AccessDenied) as exc:
            status = 403 if isinstance(exc, AccessDenied) else 400
            context["sql_error"] = str(exc)
        else:
            hidden = {c for cols in con.hidden_columns.values() for c in cols}
            context |= {
                "sql_columns": result.table.column_names,
                "sql_rows": result.table.to_pylist(),
                "sql_truncated": result.truncated,
                "sql_hidden": [c for c in result.table.column_names if c in hidden],
            }
    return _render(
        request,
        "preview.html",
        status=status,
        user=user,
        product=entry,
        port=port_entry,
        columns=[],
        rows=[],
        hidden=(),
        ran_query=True,
        title=f"Query {entry.key}",
        **context,
    )


@router.get("/access/requests")
def requests_page(request: Request) -> Response:
    user = auth.page_user(request)
    service = _state(request).current().service
    mine = [r for r in service.requests() if user and r.user == user.id]
    to_decide = service.requests("pending", decidable_by=user.id) if user else []
    decided = request.query_params.get("decided", "")
    decision = ""
    if user and re.fullmatch(REQUEST_ID, decided):
        found = [
            r
            for r in service.requests()
            if r.id == decided and r.status != "pending" and user.id in (r.decided_by, r.user)
        ]
        decision = found[0].decision() if found else ""
    catalog = _state(request).current().catalog
    previews = {}  # an approved request links straight to the data it grants
    for r in mine:
        if r.status != "approved":
            continue
        try:
            product_entry, ports = catalog.resolve_target(r.target)
        except CatalogError:
            continue  # the product was removed since
        newest = max(ports, key=lambda p: p.version)
        previews[r.id] = (
            f"/products/{product_entry.domain}/{product_entry.name}/preview"
            f"?port={quote(PortAddress.parse(newest.address).port)}&version={newest.version}"
        )
    return _render(
        request,
        "requests.html",
        user=user,
        previews=previews,
        mine=list(reversed(mine)),
        to_decide=to_decide,
        decision=decision,
        pending_count=len(to_decide),
        title="Access requests",
    )


@router.post("/access/requests/{request_id}/decide", dependencies=[Depends(auth.verify_form)])
def decide(
    request: Request,
    request_id: Annotated[str, Path(pattern=REQUEST_ID)],
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    user = _signed_in(request)
    service = _state(request).current().service
    try:
        service.decide(request_id, user.id, decision == "approve", note, channel="portal")
    except AccessDenied as exc:
        raise HTTPException(403, str(exc)) from None
    except AccessError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/access/requests?decided={quote(request_id)}", status_code=303)


def _signin_page(request: Request, status: int = 200, **context: Any) -> Response:
    """The sign-in form, with its anti-forgery token (and the cookie it is bound to)."""
    csrf, new_cookie = auth.signin_form_token(request)
    response = _render(request, "signin.html", status=status, csrf=csrf, title="Sign in", **context)
    if new_cookie is not None:
        auth.set_signin_cookie(request, response, new_cookie)
    return response


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    return _signin_page(request, next=_safe_next(next))


@router.post("/signin", dependencies=[Depends(auth.verify_form)])
def signin(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    try:
        auth.sign_in(request, response, token)
    except AccessDenied as exc:
        return _signin_page(request, status=401, user=None, next=_safe_next(next), error=str(exc))
    return response


@router.get("/signout")
def signout_form(request: Request) -> Response:
    """A link to /signout asks to confirm: signing out changes state, so only a form does it."""
    if auth.page_user(request) is None:
        return RedirectResponse("/", status_code=303)
    return _render(request, "signout.html", title="Sign out")


@router.post("/signout", dependencies=[Depends(auth.verify_form)])
def signout() -> Response:
    response = RedirectResponse("/", status_code=303)
    auth.sign_out(response)
    return response


@router.get("/docs")
def docs(request: Request) -> Response:
    """A self-contained reference of the HTTP API, rendered from the generated OpenAPI."""
    spec = request.app.openapi()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": op.get("parameters", []),
                    "body": bool(op.get("requestBody")),
                }
            )
    return _render(request, "docs.html", spec=spec, operations=operations, title="HTTP API")

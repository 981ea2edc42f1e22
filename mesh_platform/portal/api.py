"""The HTTP API under ``/api/v1``: catalog metadata as JSON, port data in open formats, SQL and
access requests. Metadata is public to every caller; data needs a bearer token and a grant (any
valid token, for a product classified ``public``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mesh_platform.access.errors import AccessDenied, AccessError, QueryRefused, UnknownRequest
from mesh_platform.access.identities import User
from mesh_platform.access.query import (
    QueryCancelled,
    QueryError,
    QueryResult,
    interrupt_queries_on_signals,
)
from mesh_platform.catalog.catalog import CatalogError
from mesh_platform.catalog.detail import product_summary
from mesh_platform.catalog.entries import PortEntry, ProductEntry
from mesh_platform.core.address import PortAddress
from mesh_platform.portal import data as port_data
from mesh_platform.portal.auth import OPTIONAL_BEARER, api_user, require_api_user

NAME = r"^[a-z][a-z0-9_]*$"
REQUEST_ID = r"^req-[0-9a-f]{1,32}$"
DomainName = Annotated[str, Path(pattern=NAME, max_length=64, description="a domain name")]
ProductName = Annotated[str, Path(pattern=NAME, max_length=64, description="a product name")]
PortName = Annotated[str, Path(pattern=NAME, max_length=64, description="an output port name")]
RequestId = Annotated[str, Path(pattern=REQUEST_ID, description="an access request id")]


class Problem(BaseModel):
    """Every error of the API: one sentence naming the product, port, column or parameter."""

    detail: str


_WHY = {
    400: "invalid request (a parameter or the body fails validation), or refused",
    401: "no bearer token, or not a valid one",
    403: "no grant (or role) for this",
    404: "no such domain, product, port, version or access request",
    413: "request body over 1 MiB",
    503: "the server is stopping",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: each status it may answer besides success, as ``Problem``.
    (The portal answers an invalid request with 400, never FastAPI's 422.)"""
    return {code: {"model": Problem, "description": _WHY[code]} for code in codes}


@asynccontextmanager
async def _stop_queries_on_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """While the server runs, SIGTERM/SIGINT first interrupt every running query, then start
    the server's own shutdown, which would otherwise wait for the queries to finish."""
    restore = interrupt_queries_on_signals()
    try:
        yield
    finally:
        restore()


router = APIRouter(prefix="/api/v1", lifespan=_stop_queries_on_shutdown)


def _snapshot(request: Request):
    return request.app.state.portal.current()


def product_url(key: str) -> str:
    domain, name = key.split(".")
    return f"/api/v1/products/{domain}/{name}"


def port_url(address: str) -> str:
    parsed = PortAddress.parse(address)
    return f"/api/v1/ports/{parsed.domain}/{parsed.port}"


def public_published(published: dict[str, Any] | None) -> dict[str, Any] | None:
    """A published snapshot without the server's paths (meaningless to an HTTP client)."""
    hidden = {"path", "files"}
    return {k: v for k, v in published.items() if k not in hidden} if published else None


def _product_summary(product: ProductEntry) -> dict[str, Any]:
    return {
        **product_summary(product),
        "ports": [
            {
                "address": p.address,
                "version": p.version,
                "published_rows": p.published.rows if p.published else None,
                "url": port_url(p.address) + f"?version={p.version}",
            }
            for p in product.ports
        ],
        "url": product_url(product.key),
    }


def _not_found(exc: CatalogError) -> HTTPException:
    return HTTPException(404, str(exc))


def _port(catalog, domain: str, port: str, version: int | None) -> PortEntry:
    try:
        return catalog.port(f"{domain}.{port}", version)
    except CatalogError as exc:
        raise _not_found(exc) from None


@router.get("/domains", summary="Every domain with its owner and products")
def domains(request: Request) -> list[dict[str, Any]]:
    catalog = _snapshot(request).catalog
    return [
        {**asdict(d), "products": [product_url(k) for k in d.products], "keys": list(d.products)}
        for d in catalog.domains.values()
    ]


@router.get(
    "/products",
    summary="Every data product (optionally of one domain)",
    responses=errors(400, 404),
)
def products(
    request: Request,
    domain: Annotated[str | None, Query(pattern=NAME, max_length=64)] = None,
) -> list[dict[str, Any]]:
    catalog = _snapshot(request).catalog
    if domain is not None and domain not in catalog.domains:
        try:
            catalog.domain(domain)
        except CatalogError as exc:
            raise _not_found(exc) from None
    return [
        _product_summary(p)
        for p in sorted(catalog.products.values(), key=lambda p: p.key)
        if domain is None or p.domain == domain
    ]


@router.get(
    "/search",
    summary="Ranked search by name, description, columns, tags, owner, domain",
    responses=errors(400),
)
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=200, description="words to look for")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    snapshot = _snapshot(request)
    hits = []
    for hit in snapshot.index.search(q, limit):
        product = snapshot.catalog.product(hit.key)
        hits.append(
            {
                **asdict(hit),
                "description": product.description,
                "owner": product.owner_team,
                "url": product_url(hit.key),
            }
        )
    return {"query": q, "hits": hits}


@router.get(
    "/products/{domain}/{product}",
    summary="Everything about one product",
    responses=errors(400, 401, 404),
    openapi_extra=OPTIONAL_BEARER,
)
def product(
    request: Request,
    domain: DomainName,
    product: ProductName,
    user: Annotated[User | None, Depends(api_user)],
) -> dict[str, Any]:
    """The catalog's product detail; with a bearer token, `ports[].access` says what the caller
    may read (and which personal-data columns stay hidden)."""
    try:
        detail = request.app.state.portal.detail(f"{domain}.{product}", user.id if user else None)
    except CatalogError as exc:
        raise _not_found(exc) from None
    for port in detail["ports"]:
        port["published"] = public_published(port["published"])
        port["url"] = port_url(port["address"]) + f"?version={port['version']}"
        port["data_url"] = port_url(port["address"]) + f"/data?version={port['version']}"
    return detail


@router.get(
    "/ports/{domain}/{port}",
    summary="One output port (newest major unless version)",
    responses=errors(400, 404),
)
def port(
    request: Request,
    domain: DomainName,
    port: PortName,
    version: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> dict[str, Any]:
    catalog = _snapshot(request).catalog
    entry = _port(catalog, domain, port, version)
    product = catalog.product_of_port(entry.address)
    raw = asdict(entry)
    raw.pop("governance", None)
    raw["published"] = public_published(raw["published"])
    raw["columns"] = [{**asdict(c), "personal": c.personal} for c in entry.columns]
    raw["label"] = entry.label
    raw["product"] = product.key
    raw["versions"] = sorted(p.version for p in product.ports if p.address == entry.address)
    raw["url"] = port_url(entry.address) + f"?version={entry.version}"
    raw["data_url"] = port_url(entry.address) + f"/data?version={entry.version}"
    raw["product_url"] = product_url(product.key)
    return raw


@router.get(
    "/ports/{domain}/{port}/data",
    summary="A port's data as CSV, JSON or Parquet (needs a token and a grant)",
    responses={
        200: {
            "content": {t: {} for t in port_data.FORMATS.values()},
            "headers": {
                "X-Mesh-Rows": {"description": "rows sent", "schema": {"type": "integer"}},
                "X-Mesh-Hidden-Columns": {
                    "description": "personal-data columns sent as null (comma-separated)",
                    "schema": {"type": "string"},
                },
                "X-Mesh-Snapshot": {
                    "description": "the Iceberg snapshot read (pass as `snapshot` to read it again)",
                    "schema": {"type": "string"},
                },
            },
        },
        **errors(400, 401, 403, 404),
    },
)
def data(
    request: Request,
    domain: DomainName,
    port: PortName,
    user: Annotated[User, Depends(require_api_user)],
    format: Annotated[
        str,
        # The enum is declared for clients; the route checks it itself, with its own message.
        Query(
            description="csv | json | parquet", json_schema_extra={"enum": list(port_data.FORMATS)}
        ),
    ] = "csv",
    limit: Annotated[int, Query(ge=1, le=port_data.MAX_LIMIT)] = port_data.DEFAULT_LIMIT,
    columns: Annotated[str | None, Query(max_length=2000, description="e.g. a,b")] = None,
    version: Annotated[int | None, Query(ge=1, le=1000)] = None,
    snapshot_id: Annotated[
        str | None,
        Query(
            alias="snapshot",
            pattern=r"^[0-9]{1,20}$",
            description="read this snapshot of the port (reproducible; see `snapshot_id`)",
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        Query(description="read the snapshot that was current then (ISO time, with zone)"),
    ] = None,
) -> Response:
    """Rows of the port's current snapshot (or the one pinned by `snapshot` or `as_of`), read
    as the caller: personal-data columns are null unless their grant covers them (named in
    `X-Mesh-Hidden-Columns`); audited. `X-Mesh-Snapshot` names the snapshot read."""
    snapshot = _snapshot(request)
    entry = _port(snapshot.catalog, domain, port, version)
    try:
        fmt = port_data.check_format(format)
        selected = port_data.select_columns(entry, columns)
    except port_data.DataRequestError as exc:
        raise HTTPException(400, str(exc)) from None
    if entry.published is None:
        raise HTTPException(404, f"port {entry.label} has not been published yet; no data")
    pins = {entry.address: snapshot_id} if snapshot_id else None
    when = as_of if as_of is None or as_of.tzinfo else as_of.replace(tzinfo=UTC)
    try:
        con = snapshot.service.connect(user.id, channel="api", as_of=when, snapshots=pins)
    except QueryError as exc:  # an unknown snapshot id
        raise HTTPException(404, str(exc)) from None
    with con:
        read = con.snapshot_of(entry.label)
        if read is None and when is not None:
            raise HTTPException(404, f"port {entry.label} had no snapshot at {when.isoformat()}")
        try:
            result = port_data.read_port(con, entry, selected, limit)
        except AccessDenied as exc:
            raise HTTPException(
                403,
                f"{exc}; over the API: POST /api/v1/access/requests with "
                f'{{"target": "{entry.address}", "reason": "..."}}',
            ) from None
    return port_data.attachment(result, fmt, **{"X-Mesh-Snapshot": read or ""})


class QueryBody(BaseModel):
    sql: str = Field(min_length=1, max_length=20_000, description="one read-only SELECT")
    limit: int = Field(default=port_data.DEFAULT_LIMIT, ge=1, le=port_data.MAX_LIMIT)


@router.post(
    "/query",
    summary="Read-only SQL over the ports the caller may read",
    responses={
        **errors(400, 401, 403, 413, 503),
        400: {"model": Problem, "description": "invalid, refused, failed, or past a limit"},
    },
)
async def query(
    request: Request,
    body: QueryBody,
    user: Annotated[User, Depends(require_api_user)],
) -> dict[str, Any]:
    """Tables are `<domain>.<port>` (newest major) and `<domain>.<port>_v<N>`; statements that
    write, attach, load extensions or read files are refused (400). At most `limit` rows are
    computed (`truncated` says whether there were more); a query stops after
    `MESH_QUERY_TIMEOUT_S` seconds or past `MESH_QUERY_MEMORY_LIMIT` (400), and when the client
    disconnects."""
    service = _snapshot(request).service
    con = await run_in_threadpool(service.connect, user.id, "api")
    try:
        result = await _run_until_disconnect(request, con, body.sql, body.limit)
        hidden = sorted({c for cols in con.hidden_columns.values() for c in cols})
    except QueryCancelled as exc:
        raise HTTPException(503, str(exc)) from None
    except (QueryRefused, QueryError) as exc:
        raise HTTPException(400, str(exc)) from None
    except AccessDenied as exc:
        raise HTTPException(403, str(exc)) from None
    finally:
        await run_in_threadpool(con.close)
    rows = result.table
    return {
        "columns": rows.column_names,
        "rows": port_data.json_rows(rows),
        "row_count": rows.num_rows,
        "truncated": result.truncated,
        "hidden_columns": [c for c in hidden if c in rows.column_names],
    }


async def _run_until_disconnect(request: Request, con, sql: str, limit: int) -> QueryResult:
    """Run the query in a worker thread; interrupt it when the client goes away."""
    running = asyncio.ensure_future(run_in_threadpool(con.run, sql, limit))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({running, gone}, return_when=asyncio.FIRST_COMPLETED)
        if gone.done() and not running.done():
            con.interrupt("the client disconnected")
        return await running
    finally:
        gone.cancel()


async def _disconnected(request: Request) -> None:
    """Return once the client has disconnected. (Waits on the ASGI receive channel itself:
    ``Request.is_disconnected()`` never reports it behind the portal's HTTP middleware.)"""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class RequestBody(BaseModel):
    # Bounded like the portal's own form: the request is stored, audited and shown to owners.
    target: str = Field(
        max_length=129,
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="a product <domain>.<product> or a port <domain>.<port>",
    )
    reason: str = Field(max_length=2000, description="why you need it (the owner decides on it)")
    pii: bool = Field(default=False, description="also ask for personal-data columns")


class DecisionBody(BaseModel):
    note: str = Field(default="", max_length=2000, description="required when denying")


def _access_call(call):
    try:
        return call()
    except AccessDenied as exc:
        raise HTTPException(403, str(exc)) from None
    except UnknownRequest as exc:
        raise HTTPException(404, str(exc)) from None
    except (AccessError, CatalogError) as exc:
        raise HTTPException(400, str(exc)) from None


@router.post(
    "/access/requests",
    status_code=201,
    summary="Ask an owner for access",
    responses=errors(400, 401, 403, 413),
)
def request_access(
    request: Request,
    body: RequestBody,
    user: Annotated[User, Depends(require_api_user)],
) -> dict[str, Any]:
    service = _snapshot(request).service
    created = _access_call(
        lambda: service.request(user.id, body.target, body.reason, body.pii, channel="api")
    )
    return asdict(created)


@router.get(
    "/access/requests",
    summary="Your requests, and the pending ones you may decide",
    responses=errors(401),
)
def list_requests(
    request: Request, user: Annotated[User, Depends(require_api_user)]
) -> dict[str, Any]:
    service = _snapshot(request).service
    mine = [asdict(r) for r in service.requests() if r.user == user.id]
    to_decide = [asdict(r) for r in service.requests("pending", decidable_by=user.id)]
    return {"user": user.id, "mine": mine, "to_decide": to_decide}


def _decide(request: Request, request_id: str, user: User, approve: bool, note: str):
    service = _snapshot(request).service
    return asdict(
        _access_call(lambda: service.decide(request_id, user.id, approve, note, channel="api"))
    )


@router.post(
    "/access/requests/{request_id}/approve",
    summary="Approve (owner or steward)",
    responses=errors(400, 401, 403, 404, 413),
)
def approve(
    request: Request,
    request_id: RequestId,
    user: Annotated[User, Depends(require_api_user)],
    body: Annotated[DecisionBody | None, Body()] = None,
) -> dict[str, Any]:
    return _decide(request, request_id, user, True, body.note if body else "")


@router.post(
    "/access/requests/{request_id}/deny",
    summary="Deny with a note (owner or steward)",
    responses=errors(400, 401, 403, 404, 413),
)
def deny(
    request: Request,
    request_id: RequestId,
    user: Annotated[User, Depends(require_api_user)],
    body: Annotated[DecisionBody | None, Body()] = None,
) -> dict[str, Any]:
    return _decide(request, request_id, user, False, body.note if body else "")

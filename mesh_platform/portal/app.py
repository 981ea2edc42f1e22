"""``create_app``: the portal's pages, its HTTP API under ``/api/v1`` and the API reference.

FastAPI's own ``/docs`` loads Swagger UI from a CDN; the portal serves no external asset, so
``/docs`` here is a server-rendered reference of the generated OpenAPI (``/openapi.json``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from mesh_platform.catalog.catalog import CatalogError
from mesh_platform.core.environment import MeshEnvironment, get_environment
from mesh_platform.portal import api, pages
from mesh_platform.portal.auth import form_token, page_user
from mesh_platform.portal.guard import RequestGuard
from mesh_platform.portal.state import PortalState

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    # No script at all, nothing loaded from elsewhere, forms post only to the portal itself.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: that makes the browser send `Origin: null` on the portal's own forms.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def _validation_text(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        value = error.get("input")
        shown = f" (got {str(value)[:60]!r})" if isinstance(value, str | int) else ""
        parts.append(f"{where}: {error.get('msg', 'invalid')}{shown}")
    return "invalid request: " + "; ".join(parts)


def _error(request: Request, status: int, detail: str, headers=None) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    return request.app.state.templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": page_user(request),
            "csrf": form_token(request),
            "status": status,
            "detail": detail,
            "title": "Error",
        },
        status_code=status,
    )


def _openapi_without_422(app: FastAPI):
    """``app.openapi`` without FastAPI's generated 422 responses: the portal answers a request
    that fails validation with 400 (``invalid``, below), so the spec says that instead."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = spec.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = spec
        return app.openapi_schema

    return openapi


def create_app(env: MeshEnvironment | None = None) -> FastAPI:
    """The portal over ``env`` (default: the current environment, resolved now)."""
    env = env or get_environment()

    @asynccontextmanager
    async def warm_up(app: FastAPI) -> AsyncIterator[None]:
        # the catalog, Dagster instance and health, read before the first visitor asks
        threading.Thread(target=app.state.portal.warm, name="portal-warm", daemon=True).start()
        yield

    app = FastAPI(
        lifespan=warm_up,
        title="Data mesh portal API",
        version="1",
        description=(
            "Catalog metadata of every data product (public), port data as CSV/JSON/Parquet and "
            "read-only SQL (bearer token from `mesh access token USER`, grants enforced, "
            "personal data masked, every read audited), and the access-request flow."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.openapi = _openapi_without_422(app)
    app.state.portal = PortalState(env)
    # Keys the forms' anti-forgery tokens; drawn per start, so a restart makes open forms stale.
    app.state.form_secret = secrets.token_bytes(32)
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES))

    # Added before security_headers, so it runs inside it: its refusals get the headers too.
    app.add_middleware(RequestGuard, refuse=_error)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.cookies or request.headers.get("authorization"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 400, _validation_text(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such page or API route: {request.url.path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return _error(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(CatalogError)
    async def unknown(request: Request, exc: CatalogError) -> Response:
        return _error(request, 404, str(exc))

    app.include_router(api.router)
    app.include_router(pages.router)
    return app

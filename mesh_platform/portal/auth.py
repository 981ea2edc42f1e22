"""Who is asking: a bearer token for the API, a sign-in cookie holding the token for pages.

Tokens are issued by ``mesh access token USER`` and checked by the access service (only their
hash is stored). The cookie is HttpOnly and SameSite=Strict, so page scripts cannot read it (the
portal has none anyway) and no other site can make the browser send it; form posts also check
the Origin header when the browser sends one. No token is ever logged or echoed back.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response

from mesh_platform.access.errors import AccessDenied
from mesh_platform.access.identities import User

COOKIE = "mesh_token"
COOKIE_MAX_AGE = 12 * 3600


def _state(request: Request):
    return request.app.state.portal


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_user(request: Request) -> User | None:
    """The caller of an API route, or None without an Authorization header (a bad token: 401)."""
    if not request.headers.get("authorization"):
        return None
    token = bearer_token(request)
    try:
        return _state(request).current().service.authenticate(token)
    except AccessDenied as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def require_api_user(request: Request) -> User:
    user = api_user(request)
    if user is None:
        raise HTTPException(
            401,
            "this needs a bearer token (Authorization: Bearer <token>); "
            "`mesh access token USER` issues one",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def page_user(request: Request) -> User | None:
    """The signed-in user of a page, or None (an unknown or revoked token signs out)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return _state(request).current().service.authenticate(token)
    except AccessDenied:
        return None


def sign_in(request: Request, response: Response, token: str) -> User:
    """Check the token and set the cookie; AccessDenied when the token is not valid."""
    user = _state(request).current().service.authenticate(token.strip())
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return user


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def same_origin(request: Request) -> None:
    """Refuse a form post whose Origin is another site (defence in depth beside SameSite)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != expected:
            raise HTTPException(403, "cross-site form post refused")

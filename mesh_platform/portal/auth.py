"""Who is asking: a bearer token for the API, a sign-in cookie holding the token for pages.

Tokens are issued by ``mesh access token USER`` and checked by the access service (only their
hash is stored). The cookie is HttpOnly and SameSite=Strict, so page scripts cannot read it (the
portal has none anyway). SameSite does not stop a page of the same *site* (another port on the
same host) from posting a form with it, so every form that changes state also carries an
anti-forgery token bound to the sign-in: an HMAC of the sign-in cookie under a secret the
portal draws at start (before sign-in, of a random ``mesh_signin`` cookie). A post without the
page's token, or whose Origin is another origin (``null`` included), is refused. The JSON API
ignores cookies: only ``Authorization: Bearer`` authenticates it. No token is ever logged or
echoed back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mesh_platform.access.errors import AccessDenied
from mesh_platform.access.identities import User

COOKIE = "mesh_token"
COOKIE_MAX_AGE = 12 * 3600
SIGNIN_COOKIE = "mesh_signin"  # binds the sign-in form's token before there is a sign-in
FORM_FIELD = "csrf"
SIGN_IN_FIRST = "sign in first (a token from `mesh access token USER`)"
STALE_FORM = (
    "form post refused: it lacks this page's anti-forgery token, or the token is out of date "
    "(you signed in or out since, or the portal restarted); reload the page and submit it again"
)


def _state(request: Request):
    return request.app.state.portal


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# Declares the bearer scheme in the OpenAPI of every route that reads the caller; the routes
# parse the header themselves (below), so a malformed one is a 401 with the portal's message.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="a token from `mesh access token USER`",
    auto_error=False,
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
# ``openapi_extra`` of a route that also answers without a token (metadata for everyone).
OPTIONAL_BEARER = {"security": [{}]}


def api_user(request: Request, _: Bearer = None) -> User | None:
    """The caller of an API route, or None without an Authorization header (a bad token: 401)."""
    if not request.headers.get("authorization"):
        return None
    token = bearer_token(request)
    try:
        return _state(request).current().service.authenticate(token)
    except AccessDenied as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def require_api_user(request: Request, _: Bearer = None) -> User:
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


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def sign_in(request: Request, response: Response, token: str) -> User:
    """Check the token and set the cookie; AccessDenied when the token is not valid."""
    user = _state(request).current().service.authenticate(token.strip())
    _set_cookie(request, response, COOKIE, token.strip())
    response.delete_cookie(SIGNIN_COOKIE, path="/", httponly=True, samesite="strict")
    return user


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def _binding(request: Request) -> tuple[str, str] | None:
    """What a form token is bound to: the sign-in cookie, else the pre-sign-in cookie."""
    if session := request.cookies.get(COOKIE):
        return "session", session
    if pending := request.cookies.get(SIGNIN_COOKIE):
        return "signin", pending
    return None


def _mac(request: Request, kind: str, value: str) -> str:
    secret: bytes = request.app.state.form_secret
    return hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


def form_token(request: Request) -> str | None:
    """The anti-forgery token the page's forms carry (None before any cookie)."""
    binding = _binding(request)
    return _mac(request, *binding) if binding else None


def signin_form_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's token, and the new ``mesh_signin`` cookie value it is bound to when
    the browser has no cookie yet (the caller sets it with ``set_signin_cookie``)."""
    token = form_token(request)
    if token is not None:
        return token, None
    value = secrets.token_urlsafe(32)
    return _mac(request, "signin", value), value


def set_signin_cookie(request: Request, response: Response, value: str) -> None:
    _set_cookie(request, response, SIGNIN_COOKIE, value)


def verify_form(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> None:
    """Refuse a form post that did not come from this portal's own page: an Origin other than
    the portal's (``null`` included), or a missing or wrong anti-forgery token."""
    origin = request.headers.get("origin")
    if origin is not None:
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != expected:
            raise HTTPException(
                403, f"form post refused: it comes from {origin!r}, not from this portal"
            )
    wanted = form_token(request)
    if not csrf or wanted is None or not hmac.compare_digest(csrf.encode(), wanted.encode()):
        raise HTTPException(403, STALE_FORM)

"""``RequestGuard``: what the portal checks before it reads a request body.

FastAPI reads (and parses) a body before any dependency runs, so without this a caller with no
token could make the portal hold a body of any size before the 401. The guard, a plain ASGI
middleware in front of the routes:

- authenticates a POST (any method but GET, HEAD, OPTIONS) before its body is read: the API
  needs a valid bearer token, a page form a signed-in cookie (the sign-in and sign-out forms
  excepted), else 401, unread;
- refuses a body whose Content-Length is over ``MAX_BODY_BYTES`` (413), unread;
- counts a body as it arrives (chunked, or longer than announced) and refuses it with 413 as
  soon as it passes the limit.

A refusal sent before the body was read closes the connection, so the rest is not taken in.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mesh_platform.portal import auth

MAX_BODY_BYTES = 1024 * 1024
READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
NO_SIGN_IN = frozenset({"/signin", "/signout"})  # whose forms need no signed-in user
CLOSE = {"Connection": "close"}


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, size: int | None = None) -> None:
        got = f"of {size} bytes " if size is not None else ""
        super().__init__(
            413,
            f"request body {got}refused: the portal accepts at most {_mib(limit)}",
            headers=CLOSE,
        )


def _content_length(request: Request) -> int | None:
    try:
        return int(request.headers.get("content-length", ""))
    except ValueError:
        return None  # uvicorn refuses a malformed Content-Length before the app sees it


def _check_caller(request: Request) -> None:
    """401 unless the caller of a state-changing request is authenticated (see the module)."""
    if request.url.path.startswith("/api/"):
        auth.require_api_user(request)
    elif request.url.path not in NO_SIGN_IN and auth.page_user(request) is None:
        raise HTTPException(401, auth.SIGN_IN_FIRST)


class RequestGuard:
    """The ASGI middleware; ``refuse(request, status, detail, headers)`` renders a refusal the
    way the rest of the portal does (JSON under /api, an error page elsewhere)."""

    def __init__(
        self,
        app: ASGIApp,
        refuse: Callable[..., Response],
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.refuse = refuse
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            if request.method not in READ_ONLY:
                await run_in_threadpool(_check_caller, request)
            size = _content_length(request)
            if size is not None and size > self.limit:
                raise BodyTooLarge(self.limit, size)
        except HTTPException as exc:
            headers = {**(exc.headers or {}), **CLOSE}
            response = self.refuse(request, exc.status_code, exc.detail, headers)
            await response(scope, receive, send)
            return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)

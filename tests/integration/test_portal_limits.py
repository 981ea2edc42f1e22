"""The portal does not read what it is going to refuse: a POST is authenticated before its body
is read, and a body over the limit (declared by Content-Length, or streamed in chunks) is
refused with 413 once the limit is passed.

Each request goes over a real socket to the portal under uvicorn (``portal_url``): the client
sends the head and only a small part of the body it announces, then waits for the answer. A
portal that read the whole body before answering would still be waiting for the rest (the
socket's timeout then fails the test); this one answers at once.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from mesh_platform.access.service import AccessService
from mesh_platform.portal.guard import MAX_BODY_BYTES

from .test_portal_api import portal_env  # noqa: F401  (fixture)
from .test_portal_browser import portal_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

ANNOUNCED = 400 * 1024 * 1024  # the reported attack: 400 MB
CHUNK = b"x" * 65536


def _ask(url: str, head: list[str], body: list[bytes]) -> tuple[int, dict[str, str], str, int]:
    """Send ``head`` and then ``body`` (part of what the head announces), stop sending and read
    the answer: (status, headers, body text, bytes of body sent)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(("\r\n".join([*head, f"Host: {parts.netloc}", "", ""])).encode())
        sent = 0
        for piece in body:
            sock.sendall(piece)
            sent += len(piece)
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)  # socket.timeout here: the portal is waiting for the body
            assert data, f"the portal closed the connection without answering: {received!r}"
            received += data
        raw_head, _, rest = received.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
    return int(lines[0].split()[1]), headers, rest.decode(errors="replace"), sent


def _chunked(total: int) -> list[bytes]:
    """``total`` bytes as HTTP/1.1 chunks, without the final empty chunk (the stream goes on)."""
    pieces, left = [], total
    while left > 0:
        size = min(left, len(CHUNK))
        pieces.append(f"{size:x}\r\n".encode() + CHUNK[:size] + b"\r\n")
        left -= size
    return pieces


def test_a_huge_api_post_without_a_token_is_refused_before_its_body_is_read(portal_url):  # noqa: F811
    status, headers, text, sent = _ask(
        portal_url,
        [
            "POST /api/v1/query HTTP/1.1",
            "Content-Type: application/json",
            f"Content-Length: {ANNOUNCED}",
        ],
        [CHUNK],
    )
    assert status == 401, text
    assert "bearer token" in json.loads(text)["detail"]
    assert headers["connection"] == "close" and headers["www-authenticate"] == "Bearer"
    assert sent == len(CHUNK) < ANNOUNCED  # answered though almost all the body never came

    status, _, text, _ = _ask(
        portal_url,
        [
            "POST /api/v1/access/requests HTTP/1.1",
            "Authorization: Bearer mesh_not-a-token",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        _chunked(len(CHUNK)),
    )
    assert status == 401, text


def test_a_body_over_the_limit_is_refused_with_413(portal_url, portal_env):  # noqa: F811
    bearer = f"Authorization: Bearer {AccessService(portal_env).issue_token('alice')}"
    status, headers, text, _ = _ask(
        portal_url,
        [
            "POST /api/v1/query HTTP/1.1",
            bearer,
            "Content-Type: application/json",
            f"Content-Length: {ANNOUNCED}",
        ],
        [CHUNK],
    )
    assert status == 413, text
    detail = json.loads(text)["detail"]
    assert f"{ANNOUNCED} bytes" in detail and "1 MiB" in detail
    assert headers["connection"] == "close"

    # No Content-Length: a chunked body is counted as it arrives and refused past the limit,
    # without waiting for its end (the last chunk is never sent).
    status, _, text, sent = _ask(
        portal_url,
        [
            "POST /api/v1/query HTTP/1.1",
            bearer,
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
        _chunked(MAX_BODY_BYTES + len(CHUNK)),
    )
    assert status == 413, text
    assert "1 MiB" in json.loads(text)["detail"]

    # Pages too: the sign-in form (no sign-in yet) is capped; other forms need a sign-in first.
    status, _, text, _ = _ask(
        portal_url,
        [
            "POST /signin HTTP/1.1",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {ANNOUNCED}",
        ],
        [CHUNK],
    )
    assert status == 413 and "1 MiB" in text
    status, _, text, _ = _ask(
        portal_url,
        [
            "POST /access/requests/req-00000000/decide HTTP/1.1",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {ANNOUNCED}",
        ],
        [CHUNK],
    )
    assert status == 401 and "sign in first" in text

"""Bearer tokens for the HTTP API, issued per user by ``mesh access token USER``.

Only a SHA-256 of each token is stored (``<data>/access/tokens.json``, mode 0600): the token
itself is shown once, at issue, and never written to disk or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from mesh_platform.access.store import locked, write_atomic

TOKENS_FILE = "tokens.json"


def tokens_path(data_dir: Path) -> Path:
    return data_dir / "access" / TOKENS_FILE


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _load(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def issue_token(data_dir: Path, user_id: str) -> str:
    token = "mesh_" + secrets.token_urlsafe(24)
    path = tokens_path(data_dir)
    with locked(path):
        tokens = _load(path)
        tokens[_digest(token)] = user_id
        write_atomic(path, json.dumps(tokens, indent=2))
        os.chmod(path, 0o600)
    return token


def user_for_token(data_dir: Path, token: str) -> str | None:
    digest = _digest(token)
    for known, user_id in _load(tokens_path(data_dir)).items():
        if hmac.compare_digest(known, digest):
            return user_id
    return None

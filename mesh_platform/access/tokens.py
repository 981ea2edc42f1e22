"""Bearer tokens for the HTTP API, issued per user by ``mesh access token USER``.

Only a SHA-256 of each token is stored (``<data>/access/tokens.json``, mode 0600): the token
itself is shown once, at issue, and never written to disk or logged. Each token expires
(30 days by default) and can be revoked by its id (the first 12 characters of its hash, shown
at issue and by ``mesh access tokens``) or all at once for a user.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mesh_platform.core.locked_files import locked, write_atomic

TOKENS_FILE = "tokens.json"
DEFAULT_TTL_DAYS = 30
ID_LENGTH = 12


@dataclass(frozen=True)
class TokenRecord:
    id: str
    user: str
    issued_at: str | None
    expires_at: str | None  # None: a token issued before tokens expired; revoke it

    def expired(self, now: datetime) -> bool:
        """Past its expiry, or an expiry that is not a timestamp (refused rather than a crash)."""
        if self.expires_at is None:
            return False
        moment = parse_time(self.expires_at)
        return moment is None or moment <= now

    @property
    def unreadable(self) -> bool:
        """Its expiry is not a timestamp (a hand-edited file): refused, kept to be revoked."""
        return self.expires_at is not None and parse_time(self.expires_at) is None


def parse_time(text: object) -> datetime | None:
    """An ISO timestamp as an aware datetime (one without a time zone is UTC, as issued); None
    when it is not a timestamp, so one bad entry in tokens.json never breaks other users."""
    try:
        moment = datetime.fromisoformat(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def tokens_path(data_dir: Path) -> Path:
    return data_dir / "access" / TOKENS_FILE


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _load(path: Path) -> dict[str, dict]:
    raw = json.loads(path.read_text()) if path.exists() else {}
    # first format: digest -> user id
    return {d: v if isinstance(v, dict) else {"user": v} for d, v in raw.items()}


def _record(digest: str, entry: dict) -> TokenRecord:
    return TokenRecord(
        id=digest[:ID_LENGTH],
        user=str(entry.get("user", "")),
        issued_at=entry.get("issued_at"),
        expires_at=entry.get("expires_at"),
    )


def _save(path: Path, tokens: dict[str, dict]) -> None:
    write_atomic(path, json.dumps(tokens, indent=2, sort_keys=True))
    os.chmod(path, 0o600)


def issue_token(
    data_dir: Path, user_id: str, ttl_days: int = DEFAULT_TTL_DAYS
) -> tuple[str, TokenRecord]:
    if ttl_days < 1:
        raise ValueError(f"a token must live at least one day, not {ttl_days}")
    token = "mesh_" + secrets.token_urlsafe(24)
    now = datetime.now(UTC).replace(microsecond=0)
    entry = {
        "user": user_id,
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(days=ttl_days)).isoformat(),
    }
    path = tokens_path(data_dir)
    with locked(path):
        tokens = {
            d: e
            for d, e in _load(path).items()
            if not _record(d, e).expired(now) or _record(d, e).unreadable
        }
        tokens[_digest(token)] = entry
        _save(path, tokens)
    return token, _record(_digest(token), entry)


def user_for_token(data_dir: Path, token: str) -> str | None:
    """The user a valid token identifies; None when unknown, revoked or expired."""
    digest = _digest(token)
    now = datetime.now(UTC)
    for known, entry in _load(tokens_path(data_dir)).items():
        if hmac.compare_digest(known, digest):
            user = entry.get("user")
            expired = _record(known, entry).expired(now)
            return user if isinstance(user, str) and user and not expired else None
    return None


def list_tokens(data_dir: Path, user_id: str | None = None) -> list[TokenRecord]:
    records = [_record(d, e) for d, e in _load(tokens_path(data_dir)).items()]
    return sorted(
        (r for r in records if user_id is None or r.user == user_id),
        key=lambda r: (r.user, r.issued_at or "", r.id),
    )


def revoke_tokens(
    data_dir: Path, *, token_id: str | None = None, user_id: str | None = None
) -> list[TokenRecord]:
    """Remove one token (by id) or every token of a user; returns what was removed."""
    if (token_id is None) == (user_id is None):
        raise ValueError("revoke either one token (its id) or every token of one user")
    path = tokens_path(data_dir)
    with locked(path):
        tokens = _load(path)
        removed = {
            d: e
            for d, e in tokens.items()
            if (token_id is not None and d[:ID_LENGTH] == token_id)
            or (user_id is not None and e.get("user") == user_id)
        }
        if removed:
            _save(path, {d: e for d, e in tokens.items() if d not in removed})
    return [_record(d, e) for d, e in removed.items()]

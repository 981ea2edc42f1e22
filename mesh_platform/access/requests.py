"""Access requests: a consumer asks with a reason, an owner approves or denies.

Requests live in ``<data>/access/requests.json`` (runtime state, not policy); an approval
appends a grant to ``governance/access/grants.yaml``, which takes effect at the next read.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from mesh_platform.core.locked_files import locked, write_atomic

REQUESTS_FILE = "requests.json"
MIN_REASON = 10
Status = Literal["pending", "approved", "denied"]


@dataclass(frozen=True)
class AccessRequest:
    id: str
    user: str
    target: str
    pii: bool
    reason: str
    requested_at: str
    status: Status = "pending"
    decided_by: str | None = None
    decided_at: str | None = None
    note: str = ""

    def decision(self) -> str:
        """Who decided what and when, in one sentence (or that it is still pending)."""
        what = f"{self.user} → {self.target}" + (" with personal data" if self.pii else "")
        if self.status == "pending":
            return f"request {self.id} ({what}) pending since {self.requested_at}"
        note = f": “{self.note}”" if self.note else ""
        return (
            f"{self.decided_by} {self.status} request {self.id} ({what}) at {self.decided_at}{note}"
        )


def requests_path(data_dir: Path) -> Path:
    return data_dir / "access" / REQUESTS_FILE


def load_requests(data_dir: Path) -> list[AccessRequest]:
    path = requests_path(data_dir)
    if not path.exists():
        return []
    return [AccessRequest(**raw) for raw in json.loads(path.read_text())]


def _save(data_dir: Path, requests: list[AccessRequest]) -> None:
    write_atomic(requests_path(data_dir), json.dumps([asdict(r) for r in requests], indent=2))


def new_request_id() -> str:
    return "req-" + secrets.token_hex(4)


def update_requests(data_dir: Path, change) -> AccessRequest:
    """Apply ``change(requests) -> (requests, result)`` under the lock; save; return result."""
    path = requests_path(data_dir)
    with locked(path):
        requests, result = change(load_requests(data_dir))
        _save(data_dir, requests)
    return result

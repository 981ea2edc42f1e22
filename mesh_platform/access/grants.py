"""Grants to read data products: ``governance/access/grants.yaml``.

A grant names a principal (``user:<id>``, ``team:<team>`` or ``role:<role>``), a target (a
product ``<domain>.<product>`` — every port of it — or a port address ``<domain>.<port>``), and
whether it covers personal data. Approving a request appends one; standing grants are added by
a reviewed change. The file is rewritten atomically under a lock, so concurrent approvals never
lose one another.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mesh_platform.access.errors import AccessError
from mesh_platform.core import yaml_io
from mesh_platform.core.locked_files import locked, write_atomic

GRANTS_FILE = "grants.yaml"
PRINCIPAL = r"^(user|team|role):[a-z][a-z0-9_.-]*$"
TARGET = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"

_HEADER = """\
# Grants to read data products. `mesh access approve` (or the portal) appends to this file;
# standing grants are added by a reviewed change like any other policy.
#
#   principal: user:<id> | team:<team> | role:<role>
#   target:    <domain>.<product> (every port of it) or a port address <domain>.<port>
#   pii:       true only if the grant covers columns classified as personal data
#              (dbt column meta `pii`); without it those columns read as NULL
#   expires:   optional date after which the grant no longer applies
"""


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    principal: Annotated[str, Field(pattern=PRINCIPAL)]
    target: Annotated[str, Field(pattern=TARGET)]
    pii: bool = False
    reason: str = ""
    granted_by: str
    granted_at: str
    request_id: str | None = None
    expires: date | None = None

    def active(self, today: date | None = None) -> bool:
        return self.expires is None or self.expires >= (today or datetime.now(UTC).date())


def grants_path(access_dir: Path) -> Path:
    return access_dir / GRANTS_FILE


def load_grants(access_dir: Path) -> list[Grant]:
    path = grants_path(access_dir)
    if not path.exists():
        return []
    raw = yaml_io.safe_load(path.read_text()) or {}
    grants = []
    for index, entry in enumerate(raw.get("grants") or []):
        try:
            grants.append(Grant(**entry))
        except (ValidationError, TypeError) as exc:
            raise AccessError(f"{path}: grants[{index}] is invalid: {exc}") from exc
    return grants


def _write(access_dir: Path, grants: list[Grant]) -> None:
    body = yaml.safe_dump(
        {"grants": [g.model_dump(mode="json", exclude_none=True) for g in grants]},
        sort_keys=False,
        allow_unicode=True,
    )
    write_atomic(grants_path(access_dir), _HEADER + body)


def add_grant(access_dir: Path, grant: Grant) -> None:
    with locked(grants_path(access_dir)):
        _write(access_dir, [*load_grants(access_dir), grant])


def remove_grants(access_dir: Path, principal: str, target: str) -> list[Grant]:
    """Drop every grant of ``principal`` on ``target``; return what was removed."""
    with locked(grants_path(access_dir)):
        grants = load_grants(access_dir)
        removed = [g for g in grants if g.principal == principal and g.target == target]
        if removed:
            _write(access_dir, [g for g in grants if g not in removed])
    return removed


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()

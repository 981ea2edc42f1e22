"""The people who use the consumer plane: ``governance/access/users.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mesh_platform.access.errors import AccessError
from mesh_platform.core import yaml_io

USERS_FILE = "users.yaml"
USER_ID = r"^[a-z][a-z0-9_.-]*$"


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=USER_ID)]
    name: str
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    team: str | None = None
    # further teams the user belongs to (e.g. added as a member of a new domain's team by
    # `mesh new domain --member`, while keeping their own)
    teams: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @property
    def member_of(self) -> set[str]:
        """Every team the user is a member of."""
        return {t for t in (self.team, *self.teams) if t}

    def principals(self) -> set[str]:
        """Every principal a grant may name to cover this user."""
        found = {f"user:{self.id}", *(f"role:{r}" for r in self.roles)}
        found |= {f"team:{t}" for t in self.member_of}
        return found

    @property
    def is_steward(self) -> bool:
        return "steward" in self.roles


def load_users(access_dir: Path) -> dict[str, User]:
    path = access_dir / USERS_FILE
    if not path.exists():
        raise AccessError(f"{path} is missing: list the consumer plane's users there")
    raw = yaml_io.safe_load(path.read_text()) or {}
    users: dict[str, User] = {}
    for user_id, entry in (raw.get("users") or {}).items():
        try:
            users[user_id] = User(id=user_id, **(entry or {}))
        except (ValidationError, TypeError) as exc:
            raise AccessError(f"{path}: user {user_id!r} is invalid: {exc}") from exc
    return users


def resolve_user(user_id: str | None, users: dict[str, User]) -> User:
    """The user named by ``--as``/``MESH_USER``; a clear error when missing or unknown."""
    if not user_id:
        raise AccessError(
            "who is asking? pass --as USER (or set MESH_USER); users are listed in "
            "governance/access/users.yaml"
        )
    if user_id not in users:
        known = ", ".join(sorted(users)) or "(none)"
        raise AccessError(
            f"unknown user {user_id!r}: known users are {known}; "
            "add them to governance/access/users.yaml"
        )
    return users[user_id]

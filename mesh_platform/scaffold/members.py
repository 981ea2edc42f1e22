"""Members of an owner team, registered in the access plane's ``users.yaml``.

A team registered with no member leaves a new domain's products readable in full by nobody and
its access requests decidable only by a steward. ``mesh new domain --member USER`` registers
members here, and so can any other command that creates a team (:func:`register_team_members`
takes a plan, so its edit is shown by ``--dry-run`` and written with the rest).

``users.yaml`` is written and read by people: each edit inserts lines and keeps its comments. A
user not listed yet gets a block of their own (``team`` the new team, role ``engineer``, a name
from the id and an e-mail at the company domain — to be corrected by hand if wrong); a user of
another team keeps it and gets the new one under ``teams`` (further teams they belong to).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mesh_platform.core import yaml_io
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.governance.config import load_governance
from mesh_platform.scaffold.plan import Plan, ScaffoldError

USERS_FILE = "users.yaml"
USER_ID = re.compile(r"^[a-z][a-z0-9_.-]*$")  # access/identities.py's user id
NEW_USER_ROLE = "engineer"


def register_team_members(
    plan: Plan,
    env: MeshEnvironment,
    team: str,
    users: Iterable[str],
    email_domain: str | None = None,
) -> list[str]:
    """Add ``users`` as members of ``team`` to the plan's ``users.yaml``; return the ids of
    users it had to create. Raises :class:`ScaffoldError` (nothing planned) on a bad user id."""
    wanted = list(dict.fromkeys(users))  # keep order, drop repeats
    if not wanted:
        return []
    for user in wanted:
        if not USER_ID.match(user):
            raise ScaffoldError(
                f"invalid user id {user!r} for --member: lowercase letters, digits, '_', '.' "
                "or '-', starting with a letter (as in governance/access/users.yaml)"
            )
    path = env.access_dir / USERS_FILE
    text = plan.current(path)
    if text is None:
        text = "users:\n"
    if email_domain is None:
        email_domain = load_governance(env.governance_dir).teams.contact_domains[0]
    existing = _users(yaml_io.safe_load(text))
    created = [u for u in wanted if u not in existing]
    for user in wanted:
        text = users_add_member(text, user, team, email_domain)
    plan.write(path, text)
    joined = [u for u in wanted if u not in created]
    where = _shown(path, plan.root)
    if joined:
        role = "a member" if len(joined) == 1 else "members"
        plan.notes.append(f"registered {', '.join(joined)} as {role} of {team} in {where}")
    if created:
        plan.notes.append(
            f"registered new user(s) {', '.join(created)} (team {team}, role {NEW_USER_ROLE}, "
            f"e-mail <id>@{email_domain}) in {where}: correct their names and e-mails there"
        )
    return created


def users_add_member(text: str, user: str, team: str, email_domain: str) -> str:
    """``users.yaml`` with ``user`` a member of ``team`` (created if missing), comments kept."""
    entry = _users(yaml_io.safe_load(text)).get(user)
    if entry is not None and team in _teams_of(entry):
        return text
    lines = text.rstrip("\n").splitlines()
    if entry is None:
        lines += [
            f"  {user}:",
            f"    name: {_display_name(user)}",
            f"    email: {user}@{email_domain}",
            f"    team: {team}",
            f"    roles: [{NEW_USER_ROLE}]",
        ]
    else:
        start = next(
            (i for i, x in enumerate(lines) if re.match(rf"^  {re.escape(user)}:\s*$", x)), None
        )
        if start is None:
            raise ScaffoldError(
                f"could not add {user} to team {team} in {USERS_FILE} automatically (not a "
                "block of `key: value` lines); add it by hand"
            )
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith("   ")):
            end += 1
        others = [*entry.get("teams", ()), team]
        block = range(start + 1, end)
        teams_line = next((i for i in block if re.match(r"^\s+teams:", lines[i])), None)
        new_line = f"    teams: [{', '.join(others)}]"
        if teams_line is None:
            after = next((i for i in block if re.match(r"^\s+team:", lines[i])), start)
            lines.insert(after + 1, new_line)
        else:
            lines[teams_line] = new_line
    result = "\n".join(lines) + "\n"
    try:
        parsed = _users(yaml_io.safe_load(result))
    except Exception as exc:  # noqa: BLE001 - any parser error means the edit went wrong
        raise ScaffoldError(
            f"could not edit {USERS_FILE} automatically ({exc}); edit it by hand"
        ) from None
    if team not in _teams_of(parsed.get(user) or {}):
        raise ScaffoldError(f"could not edit {USERS_FILE} automatically; edit it by hand")
    return result


def _users(parsed: Any) -> dict[str, dict]:
    users = (parsed or {}).get("users") or {}
    return {k: (v or {}) for k, v in users.items()}


def _teams_of(entry: dict) -> set[str]:
    return {t for t in (entry.get("team"), *(entry.get("teams") or ())) if t}


def _display_name(user: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[_.-]", user) if part)


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

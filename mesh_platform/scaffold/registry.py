"""Edit the files that list domains and sources, line by line, keeping their comments.

workspace.yaml, governance/teams.yaml and a domain's sources YAML are written
by people and read by people: a YAML round-trip would lose their comments and layout. Each edit
here inserts or removes one block of lines and is verified by parsing the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mesh_platform.core import yaml_io
from mesh_platform.scaffold.plan import ScaffoldError


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _item_start(lines: list[str], name: str, indent: int | None = None) -> int | None:
    """Line of the list item ``- name: <name>`` (at ``indent`` if given)."""
    pattern = re.compile(rf"^(\s*)- name: {re.escape(name)}\s*$")
    for i, line in enumerate(lines):
        m = pattern.match(line)
        if m and (indent is None or len(m[1]) == indent):
            return i
    return None


def _item_end(lines: list[str], start: int) -> int:
    """A list item ends at the next line indented at or left of its dash."""
    base = _indent(lines[start])
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _verified(text: str, file: str, ok: Callable[[Any], bool]) -> str:
    try:
        parsed = yaml_io.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parser error means the edit went wrong
        raise ScaffoldError(
            f"could not edit {file} automatically ({exc}); edit it by hand"
        ) from None
    if not ok(parsed):
        raise ScaffoldError(f"could not edit {file} automatically; its layout is unexpected")
    return text


# workspace.yaml ----------------------------------------------------------------------------


def workspace_entry(domain: str) -> dict[str, Any]:
    return {
        "python_module": {
            "module_name": f"domains.{domain}.definitions",
            "location_name": domain,
            "working_directory": ".",
        }
    }


def workspace_with(text: str | None, add: str | None = None, drop: str | None = None) -> str:
    """workspace.yaml with one code location per domain, sorted; header comments kept."""
    text = text or "load_from:\n"
    parsed = yaml_io.safe_load(text) or {}
    entries = [e for e in parsed.get("load_from") or [] if _location(e) != drop]
    if add and not any(_location(e) == add for e in entries):
        entries.append(workspace_entry(add))
    entries.sort(key=lambda e: _location(e) or "")
    header = []
    for line in text.splitlines():
        if line.startswith("load_from"):
            break
        header.append(line)
    body = ["load_from:"]
    for entry in entries:
        ((kind, fields),) = entry.items()
        body.append(f"  - {kind}:")
        body += [f"      {k}: {v}" for k, v in fields.items()]
    return _verified(
        "\n".join([*header, *body]) + "\n",
        "workspace.yaml",
        lambda p: [_location(e) for e in p["load_from"]] == [_location(e) for e in entries],
    )


def _location(entry: Any) -> str | None:
    if not isinstance(entry, dict) or len(entry) != 1:
        return None
    (fields,) = entry.values()
    return (fields or {}).get("location_name")


# governance/teams.yaml ---------------------------------------------------------------------


def teams_add(text: str, team: str, contact: str, domain: str) -> str:
    line = f"  {team}: {{contact: {contact}, domain: {domain}}}"
    body = text.rstrip("\n") + "\n" + line + "\n"
    return _verified(
        body,
        "governance/teams.yaml",
        lambda p: (p["teams"].get(team) or {}).get("domain") == domain,
    )


def teams_remove(text: str, team: str) -> str:
    lines = [x for x in text.splitlines() if not re.match(rf"^\s+{re.escape(team)}:\s", x)]
    return _verified(
        "\n".join(lines) + "\n", "governance/teams.yaml", lambda p: team not in p["teams"]
    )


def teams_rename_domain(text: str, team: str, new_domain: str) -> str:
    lines = text.splitlines()
    for i, x in enumerate(lines):
        if re.match(rf"^\s+{re.escape(team)}:\s", x):
            lines[i] = re.sub(r"domain:\s*[a-z0-9_]+", f"domain: {new_domain}", x)
    return _verified(
        "\n".join(lines) + "\n",
        "governance/teams.yaml",
        lambda p: p["teams"][team].get("domain") == new_domain,
    )


# sources YAML ------------------------------------------------------------------------------


def _sources(parsed: Any) -> dict[str, set[str]]:
    return {
        s["name"]: {t["name"] for t in s.get("tables") or []}
        for s in (parsed or {}).get("sources") or []
    }


def sources_add(text: str | None, source: str, source_block: str, table: str, table_block: str):
    """Add ``table`` to ``source`` (the whole source block if it is new). Blocks are indented
    as a top-level list item (source) and as an item of its ``tables:`` (table)."""
    text = text or "sources:\n"
    existing = _sources(yaml_io.safe_load(text))
    if table in existing.get(source, set()):
        return text
    lines = text.rstrip("\n").splitlines()
    if source not in existing:
        lines += ([""] if len(lines) > 1 else []) + source_block.rstrip("\n").splitlines()
    else:
        start = _item_start(lines, source)
        end = _item_end(lines, start)
        tables = next(
            (i for i in range(start, end) if re.match(r"^\s+tables:\s*$", lines[i])), None
        )
        if tables is None:
            raise ScaffoldError(f"source {source} has no `tables:` list to add {table!r} to")
        shift = _indent(lines[tables]) + 2 - _indent(table_block.splitlines()[0])
        block = [(" " * shift + x if shift >= 0 else x[-shift:]) for x in table_block.splitlines()]
        lines[tables + 1 : tables + 1] = block
    return _verified(
        "\n".join(lines) + "\n",
        "the sources YAML",
        lambda p: table in _sources(p).get(source, set()),
    )


def sources_remove(text: str, source: str, table: str) -> str | None:
    """Without ``table`` (and without ``source`` if it was its last table); None if empty."""
    existing = _sources(yaml_io.safe_load(text))
    if table not in existing.get(source, set()):
        return text
    lines = text.rstrip("\n").splitlines()
    start = _item_start(lines, source)
    if existing[source] == {table}:
        del lines[start : _item_end(lines, start)]
    else:
        end = _item_end(lines, start)
        t = next(
            i for i in range(start + 1, end) if re.match(rf"^\s+- name: {table}\s*$", lines[i])
        )
        del lines[t : _item_end(lines, t)]
    while lines and not lines[-1].strip():
        lines.pop()
    result = "\n".join(lines) + "\n"
    if not _sources(yaml_io.safe_load(result)):
        return None
    return _verified(result, "the sources YAML", lambda p: table not in _sources(p).get(source, ()))


def sync_helm_values(plan, env, add: tuple[str, str] | None = None, drop: str | None = None):
    """Keep infra/helm/values.yaml and infra/k8s/ in step with a domain added, removed or
    renamed.

    Regenerated only when the committed copies are the generated ones for today's domains
    (with the default image and settings); copies generated with other options get a note
    instead, since only their author knows which options to pass.
    """
    from mesh_platform.production import helm
    from mesh_platform.production.generated import generated_files

    current = plan.current(str(helm.VALUES_FILE))
    if current is None:
        return
    teams = helm.domain_teams(env)
    today = generated_files(env, teams=teams)
    if any(plan.current(str(path)) != text for path, text in today.items()):
        plan.notes.append(
            f"{helm.VALUES_FILE} or infra/k8s/ was not generated with the defaults: run "
            "`mesh infra helm-values --image … --tag …` after this change"
        )
        return
    specs = {}
    if add and drop:  # a rename keeps the domain's deployment block
        from mesh_platform.core.domain import load_domain

        specs[add[0]] = load_domain(env.domains_dir / drop).spec.deployment
    teams.pop(drop, None)
    if add:
        teams[add[0]] = add[1]
    for path, text in generated_files(env, teams=teams, specs=specs).items():
        plan.write(str(path), text)

"""The platform's architecture, kept: layers one way, Dagster/dbt only in `build`, no company.

`make lint` runs import-linter too; running it here means `pytest` alone also fails on a
broken layer, and the test names say which promise broke.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mesh_platform.core.domain import discover_domain_dirs

REPO = Path(__file__).resolve().parents[2]
PLATFORM = REPO / "mesh_platform"


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True)  # noqa: S603
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_platform_names_no_company_and_none_of_its_domains():
    """Another company deletes domains/ and operational/ and keeps mesh_platform/ as it is."""
    names = {d.name for d in discover_domain_dirs(REPO / "domains")}
    assert names, "no domains found to check against"
    words = "|".join(sorted(names | {"daff"}))
    # the demo's generator package by its module path (the word "operational" is generic)
    pattern = re.compile(rf"\b({words})\b|\boperational\.[a-z_]+\b", re.IGNORECASE)
    found = []
    for path in PLATFORM.rglob("*"):
        if path.suffix not in {".py", ".j2", ".html", ".yaml", ".md"}:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "company- or domain-specific text in the platform:\n" + "\n".join(found)


def test_the_wheel_ships_the_platform_only():
    import tomllib

    settings = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert settings["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["mesh_platform"]

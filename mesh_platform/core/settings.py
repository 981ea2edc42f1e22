"""The mesh's own settings: the ``[tool.mesh]`` table of its ``pyproject.toml``.

What differs between companies and is not a descriptor lives here (the demo-data generator,
the container image, the label prefix of Kubernetes objects), so the platform names no company.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def mesh_settings(repo_root: Path) -> dict[str, Any]:
    """``[tool.mesh]`` of ``repo_root/pyproject.toml``; empty when there is none."""
    pyproject = repo_root / "pyproject.toml"
    if not pyproject.exists():
        return {}
    return dict(tomllib.loads(pyproject.read_text()).get("tool", {}).get("mesh", {}))

"""Optional parts of the platform are installed as extras; a missing one says how to add it."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {"production": "the production topology (PostgreSQL storage)", "spark": "the Spark engine"}


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` from the optional ``extra``, or fail saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(
            f"{EXTRAS[extra]} needs the `{extra}` extra, which is not installed: "
            f"`uv sync --extra {extra}`; "
            "`make install` installs every extra"
        ) from None

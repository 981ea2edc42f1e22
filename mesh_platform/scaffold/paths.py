"""Where a domain's dbt models live, relative to the repository root: the one place to change
when the dbt project's layout changes."""

from __future__ import annotations


def model_path(domain: str, *parts: str) -> str:
    """``dbt_project/<domain>/models/<parts...>`` (the domain's own dbt project), e.g.
    ``model_path(d, "marts", "x.sql")``."""
    return "/".join(["dbt_project", domain, "models", *parts])

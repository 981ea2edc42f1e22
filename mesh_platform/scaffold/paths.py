"""Where a domain's dbt models live, relative to the repository root: the one place to change
when the dbt project's layout changes (e.g. one dbt project per domain)."""

from __future__ import annotations


def model_path(domain: str, *parts: str) -> str:
    """``dbt_project/models/<domain>/<parts...>``, e.g. ``model_path(d, "marts", "x.sql")``."""
    return "/".join(["dbt_project", "models", domain, *parts])

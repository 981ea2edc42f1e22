"""The scaffold's templates (Jinja2, in ``templates/``): small files a newcomer can read."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

TEMPLATES = Path(__file__).parent / "templates"


def flow(value: Any) -> str:
    """A YAML scalar or flow mapping on one line, quoted only where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def wrap(text: str, indent: int) -> str:
    """Folded YAML text: lines of at most 96 characters, continuation lines indented."""
    import textwrap

    lines = textwrap.wrap(" ".join(text.split()), 96 - indent)
    return ("\n" + " " * indent).join(lines)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        # renders YAML, SQL and Python (never HTML): escaping only if a template ever is HTML
        autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default=False),
    )
    env.filters["flow"] = flow
    env.filters["wrap"] = wrap
    return env


def render(template: str, **values: Any) -> str:
    return _env().get_template(template).render(**values)

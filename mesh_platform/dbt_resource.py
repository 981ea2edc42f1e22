"""The dbt CLI resource the mesh runs with.

dagster-dbt asks ``dbt --version`` in a subprocess at every step to learn which dbt it drives
(about 3 s, and dbt then checks the package index for a newer release). The version is that
of the dbt-core package installed beside us, so we read it from package metadata instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as package_version

from dagster_dbt import DbtCliResource
from packaging import version


class MeshDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(package_version("dbt-core"))


@contextmanager
def domain_invocation_env(domain: str, extra: dict[str, str]) -> Iterator[None]:
    """Point dbt at one domain's DuckDB file for the duration of an invocation.

    dagster-dbt hands the process environment to dbt; ``profiles.yml`` derives the database
    path from ``MESH_DOMAIN``. Steps of one process run one at a time (in-process executor or
    one subprocess per step), so the swap cannot leak into another domain's invocation.
    """
    updates = {"MESH_DOMAIN": domain, **extra}
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

"""The library versions each private seam was tested with; anything else fails loudly.

The platform uses public APIs of Dagster, dagster-dbt and dbt except in these places, each kept
in one module, each for a measured gain or a need no public API meets (see the module):

- ``build/local_event_log.py`` — Dagster's SQLite event-log storage (pool slots claimed under
  a host lock: correctness on the embedded instance; event batches in one transaction);
- ``build/dbt_resource.py`` — dagster-dbt's invocation internals (no ``dbt --version``
  subprocess; dbt run in the step's process: 6.5 s less per step);
- ``build/definitions.py`` and ``build/dbt_specs.py`` — dagster-dbt's spec building (the loop of
  ``build_dbt_specs``, what ``@dbt_assets`` is built on, over a selection read from the manifest
  without dbt-core): the contract checks must be blocking checks of the dbt step itself, and a
  code server must not import dbt's selector at load;
- ``build/dbt_in_process.py`` — dbt-duckdb's connection manager state (a fresh DuckDB
  environment per in-process invocation);
- ``production/stack.py`` — Dagster's gRPC client (waiting for a code server to answer);
- ``build/job_run.py`` — Dagster's run creation with a code-location origin (`mesh materialize`'s
  in-process runs show under their domain's job in the UI's timeline).

Each calls :func:`require_tested` before touching the private part. An upgrade then stops
with a message naming the seam, instead of misbehaving quietly; re-run the tests that pin the
seam, then widen the range here. ``MESH_ALLOW_UNTESTED_VERSIONS=1`` tries anyway.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import metadata

from packaging.specifiers import SpecifierSet

# distribution -> the versions the private seams were tested with (pyproject pins the same)
TESTED = {
    "dagster": "==1.13.27",
    "dagster-dbt": "==0.29.27",
    "dbt-duckdb": "==1.11.1",
}
OVERRIDE = "MESH_ALLOW_UNTESTED_VERSIONS"


class UntestedVersionError(RuntimeError):
    """An installed library is outside the range a private seam was tested with."""


def check_version(distribution: str, installed: str, seam: str) -> None:
    """Raise :class:`UntestedVersionError` unless ``installed`` is in the tested range."""
    tested = TESTED[distribution]
    if installed in SpecifierSet(tested) or os.environ.get(OVERRIDE) == "1":
        return
    raise UntestedVersionError(
        f"{seam} uses private internals of {distribution}, tested with {distribution}{tested}, "
        f"but {distribution} {installed} is installed. Install the tested version "
        "(`make install`), or check the seam against the new version (its tests), then update "
        f"TESTED in mesh_platform/core/version_guard.py; {OVERRIDE}=1 tries anyway"
    )


@cache
def require_tested(distribution: str, seam: str) -> None:
    """:func:`check_version` against the installed distribution (once per process)."""
    check_version(distribution, metadata.version(distribution), seam)

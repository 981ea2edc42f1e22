"""Definitions load time per code location, in fresh processes, as a code server pays it.

Three processes are timed, each on its own:

- ``baseline``: ``import dagster, dagster_dbt`` — what any code location pays first;
- one per domain: import ``domains.<d>.definitions`` (the platform builds the domain's
  ``Definitions`` from descriptors + the prepared dbt manifest), then build the repository
  snapshot a code server serializes for the webserver/daemon (``RepositorySnap``), which is
  where Dagster resolves every job, schedule, sensor and asset;
- the same for a synthetic domain of N products in a temporary copy of the repository
  (``bench.synthetic``).

The script prints its own phase timings (imports / definitions / snapshot) and whether the
dbt manifest was re-parsed during the load (it must not be: ``mesh prepare`` ran before).
"""

from __future__ import annotations

import json
from pathlib import Path

BASELINE = "import dagster, dagster_dbt"

LOAD_SCRIPT = """
import json, time
from pathlib import Path
manifest = Path('dbt_project/{domain}/target/manifest.json')
before = manifest.stat().st_mtime_ns if manifest.exists() else None
t0 = time.perf_counter()
import dagster, dagster_dbt
t1 = time.perf_counter()
import importlib
defs = importlib.import_module({module!r}).defs
t2 = time.perf_counter()
from dagster._core.remote_representation.external_data import RepositorySnap
repo = defs.get_repository_def()
snap = RepositorySnap.from_def(repo)
t3 = time.perf_counter()
print("BENCH-PHASES " + json.dumps({{
    "imports_s": round(t1 - t0, 3),
    "definitions_s": round(t2 - t1, 3),
    "snapshot_s": round(t3 - t2, 3),
    "assets": len(repo.asset_graph.get_all_asset_keys()),
    "schedules": len(repo.schedule_defs),
    "jobs": len(repo.get_all_jobs()),
    "manifest_reparsed": before != (manifest.stat().st_mtime_ns if manifest.exists() else None),
}}))
"""


def load_script(module: str) -> str:
    return LOAD_SCRIPT.format(module=module, domain=module.split(".")[1])


def parse_phases(log: Path) -> dict:
    for line in log.read_text().splitlines():
        if line.startswith("BENCH-PHASES "):
            return json.loads(line.removeprefix("BENCH-PHASES "))
    return {}

"""A domain of many products loads as a code location whose automation covers every product.

The domain is ``bench.synthetic``'s (50 products, one schedule each, crons shared by some),
in a copy of the repository, loaded in a fresh process from that copy as a code server does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench import synthetic

PRODUCTS = 50

LOAD = """
import json
from datetime import UTC, datetime
import dagster as dg
from dagster._core.remote_representation.external_data import RepositorySnap
from domains.synth.definitions import defs

repo = defs.get_repository_def()
snap = RepositorySnap.from_def(repo)  # what the code server serves to the UI and the daemon
out = {"jobs": sorted(j.name for j in repo.get_all_jobs()),
       "snap_schedules": sorted(s.name for s in snap.schedules), "schedules": {}}
for schedule in defs.schedules:
    minute, hour = (int(f) for f in schedule.cron_schedule.split()[:2])
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 10, hour, minute, tzinfo=UTC),
        repository_def=repo,
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    out["schedules"][schedule.name] = {
        "job": schedule.job_name,
        "cron": schedule.cron_schedule,
        "status": schedule.default_status.value,
        "selection": sorted(k.to_user_string() for k in request.asset_selection),
    }
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def synthetic_domain(tmp_path_factory) -> dict:
    root = synthetic.make_repo(tmp_path_factory.mktemp("many") / "repo", PRODUCTS)
    env = {**os.environ, "MESH_DATA_DIR": str(root / "data")}
    synthetic.prepare(root, env, domains=(synthetic.DOMAIN,))
    proc = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=root, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.slow
def test_every_product_of_a_large_domain_has_its_own_running_schedule(synthetic_domain):
    schedules = synthetic_domain["schedules"]
    names = {f"synth__{synthetic.product_name(i)}" for i in range(1, PRODUCTS + 1)}
    assert set(schedules) == names  # the names the portal's automation on/off reads
    assert set(synthetic_domain["snap_schedules"]) == names  # and what the UI is served
    assert {s["status"] for s in schedules.values()} == {"RUNNING"}
    for i in range(1, PRODUCTS + 1):  # each at its product's own cron
        assert schedules[f"synth__{synthetic.product_name(i)}"]["cron"] == f"{i % 60} 4 * * *"


@pytest.mark.slow
def test_each_schedule_runs_only_its_product_through_the_domains_one_job(synthetic_domain):
    schedules = synthetic_domain["schedules"]
    for name, schedule in schedules.items():
        product = name.removeprefix("synth__")
        assert schedule["selection"] == [f"synth/synth_{product}"], name
    # one job for the whole domain (what `mesh materialize` runs), not one per product or cron
    assert {s["job"] for s in schedules.values()} == {"synth__materialize"}
    assert set(synthetic_domain["jobs"]) == {"__ASSET_JOB", "synth__materialize"}

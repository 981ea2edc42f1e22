"""The production topology on one machine: PostgreSQL-backed Dagster, one gRPC code server per
domain, dagster-daemon and dagster-webserver (what `mesh serve --production` starts).

One stack serves the whole module, and the tests run in file order on it: it comes up; a run of
every domain launched over GraphQL succeeds and lands in PostgreSQL; the daemon's automation
sensor launches a run of its own; a domain engineer sees their location and product in the UI
(headless Chromium); one domain's broken code is one errored location while the others keep
running; and everything stops by process id, leaving no process and a free port.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.production.control import Controller, read_state
from mesh_platform.production.processes import alive_pids, port_open
from mesh_platform.production.stack import Stack
from mesh_platform.run.runner import day_window, domain_order
from operational import generate

from ..conftest import REPO
from .test_dagster_ui import ASSET, LAUNCH, LOCATIONS, STATUS, gql, wait_for

pytestmark = pytest.mark.slow

SCALE = 0.01
REPOSITORY = "__repository__"
ASSET_NODES = """query($selector: RepositorySelector!) { repositoryOrError(repositorySelector:
  $selector) { ... on Repository { assetNodes { assetKey { path } isMaterializable isPartitioned }
  } } }"""
RUNS = """{ runsOrError(limit: 50) { ... on Runs { results { runId status
  tags { key value } } } } }"""
ERRORS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { ... on PythonError { message causes { message } } } } } } }"""
# one process per run (no step subprocess): the same code path, less start-up on 2 cores
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
RELOAD = """mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename } }"""

# what the tests in this module learn from each other (they run in file order on one stack)
STATE: dict[str, object] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data_dir: Path = tmp_path_factory.mktemp("production-data")
    patch = pytest.MonkeyPatch()
    patch.setenv("MESH_DATA_DIR", str(data_dir))
    patch.delenv("MESH_REPO_ROOT", raising=False)
    env = apply_tool_env()
    generate(env.operational_dir, scale=SCALE)
    stack = Stack(env, webserver_port=0)
    try:
        stack.start()
        print(f"\nproduction topology up: {stack.timings}")
        yield stack
    finally:
        stack.stop()
        patch.undo()


def port(stack: Stack) -> int:
    return stack.webserver_port


def location_status(stack: Stack) -> dict[str, str]:
    entries = gql(port(stack), LOCATIONS)["workspaceOrError"]["locationEntries"]
    return {
        e["name"]: (e["locationOrLoadError"] or {}).get("__typename", "Loading") for e in entries
    }


def asset_nodes(stack: Stack, domain: str) -> list[dict]:
    selector = {"repositoryLocationName": domain, "repositoryName": REPOSITORY}
    data = gql(port(stack), ASSET_NODES, {"selector": selector})
    return [n for n in data["repositoryOrError"]["assetNodes"] if n["isMaterializable"]]


def launch(stack: Stack, domain: str, keys: list[dict], tags: dict[str, str] | None = None):
    params = {
        "selector": {
            "repositoryLocationName": domain,
            "repositoryName": REPOSITORY,
            "jobName": "__ASSET_JOB",
            "assetSelection": keys,
        },
        "mode": "default",
        "runConfigData": IN_PROCESS,
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    launched = gql(port(stack), LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", (domain, launched)
    return launched["run"]["runId"]


def finished(stack: Stack, run_id: str, timeout: float = 600) -> str:
    def done():
        status = gql(port(stack), STATUS, {"id": run_id})["runOrError"]["status"]
        return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None

    return wait_for(done, timeout, f"run {run_id} to finish")


def domain_runs(stack: Stack, domain: str) -> list[tuple[list[dict], dict[str, str]]]:
    """What "Materialize all" launches for a domain: its daily-partitioned assets as one
    single-run backfill over the generated days, then everything else."""
    nodes = asset_nodes(stack, domain)
    start, end = day_window(stack.env, load_all_domains(stack.env.domains_dir))
    partitioned = [n["assetKey"] for n in nodes if n["isPartitioned"]]
    plain = [n["assetKey"] for n in nodes if not n["isPartitioned"]]
    window = {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }
    return [(keys, tags) for keys, tags in ((partitioned, window), (plain, {})) if keys]


def automation_runs(stack: Stack) -> list[dict]:
    """Runs the daemon launched from a domain's automation sensor (not over GraphQL by us)."""
    runs = gql(port(stack), RUNS)["runsOrError"]["results"]
    out = []
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        if tags.get("dagster/sensor_name", "").endswith("_automation"):
            out.append({**run, "tags": tags})
    return out


def postgres_runs(stack: Stack, run_ids) -> dict[str, str]:
    with psycopg2.connect(stack.postgres.dsn()) as con, con.cursor() as cur:
        cur.execute("select run_id, status from runs where run_id = any(%s)", (list(run_ids),))
        return dict(cur.fetchall())


def test_the_stack_comes_up_with_one_code_server_per_domain(stack):
    domains = sorted(p.parent.name for p in (REPO / "domains").glob("*/domain.yaml"))
    status = wait_for(lambda: location_status(stack), 120, "the workspace")
    assert sorted(status) == domains
    assert set(status.values()) == {"RepositoryLocation"}, status
    assert sorted(stack.code_servers) == domains
    assert len({s.port for s in stack.code_servers.values()}) == len(domains)
    workspace = stack.workspace_file.read_text()
    assert workspace.count("grpc_server") == len(domains)
    with stack.instance() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        for domain in domains:
            info = instance.event_log_storage.get_concurrency_info(f"duckdb_{domain}")
            assert info.slot_count == 1, domain


def test_a_run_of_each_domain_succeeds_and_is_recorded_in_postgres(stack):
    """Launched over GraphQL, each run as soon as the runs publishing the ports it reads have
    succeeded. The last domain (recommendations, reading artists' ports) starts once the daemon
    has run the automation that artists' new ports triggered in it (checked by the next test)."""
    domains = domain_order(_domains(stack))
    units = [
        {"domain": d.name, "keys": keys, "tags": tags, "reads": _reads(d)}
        for d in domains
        for keys, tags in domain_runs(stack, d.name)
    ]
    for i, unit in enumerate(units):
        own = [u for u in units[:i] if u["domain"] == unit["domain"]]
        upstream = [u for u in units if u["domain"] != unit["domain"] and unit["reads"] & _paths(u)]
        unit["after"] = own + upstream
    last_domain = domains[-1].name
    while any("status" not in u for u in units):
        for unit in units:
            if "id" in unit or any(d.get("status") != "SUCCESS" for d in unit["after"]):
                continue
            if unit["domain"] == last_domain and "automation_run" not in STATE:
                STATE["automation_run"] = wait_for(
                    lambda: _finished_automation_run(stack), 300, "the daemon's automation run"
                )
            unit["id"] = launch(stack, unit["domain"], unit["keys"], unit["tags"])
        for unit in units:
            if "id" in unit and "status" not in unit:
                status = gql(port(stack), STATUS, {"id": unit["id"]})["runOrError"]["status"]
                if status in {"SUCCESS", "FAILURE", "CANCELED"}:
                    unit["status"] = status
                    assert status == "SUCCESS", unit
        time.sleep(2)
    STATE["launched"] = {u["id"] for u in units}
    assert {u["domain"] for u in units} == {d.name for d in domains}
    assert postgres_runs(stack, STATE["launched"]) == dict.fromkeys(STATE["launched"], "SUCCESS")


def _reads(domain) -> set[tuple[str, ...]]:
    """Asset keys of the upstream output ports a domain's products read."""
    return {
        tuple(address.split("."))
        for product in domain.products
        for address in product.upstream_ports
    }


def _paths(unit) -> set[tuple[str, ...]]:
    return {tuple(key["path"]) for key in unit["keys"]}


def _domains(stack: Stack):
    from mesh_platform.core.domain import load_all_domains

    return load_all_domains(stack.env.domains_dir)


def _finished_automation_run(stack: Stack):
    runs = [r for r in automation_runs(stack) if r["status"] in {"SUCCESS", "FAILURE"}]
    return runs[0] if runs else None


def test_a_sensor_tick_launches_a_run_through_the_daemon(stack):
    run = STATE.get("automation_run") or wait_for(
        lambda: _finished_automation_run(stack), 300, "the daemon's automation run"
    )
    assert run["runId"] not in STATE.get("launched", set())
    assert run["tags"]["dagster/from_automation_condition"] == "true"
    assert run["status"] == "SUCCESS", run
    assert postgres_runs(stack, [run["runId"]]) == {run["runId"]: "SUCCESS"}


def test_a_domain_engineer_sees_their_location_and_product_in_the_ui(stack):
    from playwright.sync_api import sync_playwright

    node = gql(port(stack), ASSET, {"path": ["artists", "track_catalog"]})["assetNodeOrError"]
    assert {"team": "artists-team"} in node["owners"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{stack.url}/locations")
            # every domain is a code location of its own (rows render as they load)
            for domain in stack.code_servers:
                page.get_by_text(domain, exact=True).first.wait_for(timeout=60_000)
            assert page.get_by_text("Loaded", exact=True).count() == len(stack.code_servers)

            page.goto(f"{stack.url}/assets/artists/track_catalog")
            page.get_by_text("Every track in Daff's catalog").first.wait_for(timeout=60_000)
            page.get_by_text("artists-team").first.wait_for(timeout=30_000)
            columns = page.inner_text("body")
            for column in ("track_id", "artist_id", "duration_ms", "released_on"):
                assert column in columns

            page.goto(f"{stack.url}/assets/artists/track_catalog?view=checks")
            page.get_by_text("contract__track_id__duplicate").first.wait_for(timeout=60_000)
            checks = page.inner_text("body")
            assert "governance" in checks
            assert "Succeeded" in checks and "Failed" not in checks
        finally:
            browser.close()


def test_redeploying_one_domain_restarts_only_its_code_server(stack, monkeypatch):
    """`mesh redeploy artists`, as from another shell, while the stack serves (the thread polls
    for requests as `mesh serve --production` does): artists gets a new code server on the same
    port that serves again; every other domain's code server is the same process."""
    monkeypatch.setenv("MESH_DATA_DIR", str(stack.env.data_dir))  # the stack's, as its shell's
    control = Controller(stack)
    control.publish()
    stop = threading.Event()

    def serve() -> None:
        while not stop.wait(0.5):
            control.poll()

    server = threading.Thread(target=serve)
    before = {d: s.service.pid for d, s in stack.code_servers.items()}
    port_before = stack.code_servers["artists"].port
    server.start()
    try:
        result = CliRunner().invoke(app, ["redeploy", "artists"])
        unknown = CliRunner().invoke(app, ["redeploy", "nosuchdomain"])
    finally:
        stop.set()
        server.join()
    assert result.exit_code == 0, result.output
    assert unknown.exit_code == 1 and "serves no domain 'nosuchdomain'" in unknown.output
    after = {d: s.service.pid for d, s in stack.code_servers.items()}
    assert after["artists"] != before["artists"]
    assert not alive_pids({before["artists"]})
    assert {d: p for d, p in after.items() if d != "artists"} == {
        d: p for d, p in before.items() if d != "artists"
    }
    assert alive_pids(set(after.values())) == set(after.values())
    state = read_state(stack.root)
    assert state["code_servers"]["artists"] == {
        "pid": after["artists"],
        "port": port_before,
        "repo_root": str(stack.env.repo_root),
    }
    status = wait_for(
        lambda: (s := location_status(stack))["artists"] == "RepositoryLocation" and s,
        120,
        "artists to load again",
    )
    assert set(status.values()) == {"RepositoryLocation"}, status
    control.close()


def test_broken_domain_is_an_errored_location_while_the_others_keep_running(stack, tmp_path):
    copy = tmp_path / "mesh-copy"
    for folder in ("domains", "dbt_project", "governance", "infra"):
        shutil.copytree(
            REPO / folder, copy / folder, ignore=shutil.ignore_patterns("target", "__pycache__")
        )
    broken = copy / "domains" / "podcasts" / "definitions.py"
    broken.write_text(broken.read_text() + "\ndef oops(:\n")
    stack.replace_code_server("podcasts", copy)
    gql(port(stack), RELOAD, {"name": "podcasts"})

    status = wait_for(
        lambda: (s := location_status(stack))["podcasts"] == "PythonError" and s,
        120,
        "podcasts to show as an errored location",
    )
    assert {k: v for k, v in status.items() if k != "podcasts"} == dict.fromkeys(
        [d for d in stack.code_servers if d != "podcasts"], "RepositoryLocation"
    )
    entries = gql(port(stack), ERRORS)["workspaceOrError"]["locationEntries"]
    error = next(e for e in entries if e["name"] == "podcasts")["locationOrLoadError"]
    messages = " ".join([error["message"], *(c["message"] for c in error["causes"])])
    assert "SyntaxError" in messages and "definitions.py" in messages, messages
    # another domain still runs end to end while podcasts is down
    (keys, tags), *_ = domain_runs(stack, "listeners")
    assert finished(stack, launch(stack, "listeners", keys, tags)) == "SUCCESS"


def test_every_process_stops_cleanly_by_process_id(stack):
    pids = stack.pids()
    assert {s.pid for s in stack.services()} | {stack.postgres.server_pid()} <= alive_pids(pids)
    ports = [stack.webserver_port, stack.postgres.port] + [
        s.port for s in stack.code_servers.values()
    ]
    started = time.monotonic()
    left = stack.stop()
    print(f"\nstopped in {time.monotonic() - started:.1f}s: {stack.timings}")
    assert left == set()
    assert alive_pids(pids) == set()
    assert not any(port_open(p) for p in ports)
    assert not stack.postgres.running()

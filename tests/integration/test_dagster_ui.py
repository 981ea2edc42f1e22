"""`mesh dev`: the Dagster webserver with one code location per domain, over the session's
built mesh (what `make demo` leaves), driven over GraphQL and in a headless Chromium.

GraphQL is the API the UI itself uses: the test sees the code locations load, a product's
asset with its owner, description and column schema, and materializes a domain from it. In
Chromium (each page screenshotted under ``test-artifacts/screenshots/test_dagster_ui/``), a user sees
the build's runs on the Overview timeline, the operational sources observed (not "never
materialized"), each location with its domain's group only, and a readable port page.

Where strace is installed, the whole `dagster dev` process tree (webserver, daemon, code
locations, the run launched from the UI) is traced, started without any telemetry opt-out from
the caller, and the last test checks it made no network attempt outside loopback.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mesh_platform.core.environment import TELEMETRY_OFF
from security.netwatch import outbound, parse, report, strace_argv

from ..conftest import REPO
from .test_portal_browser import browser  # noqa: F401  (fixture: headless Chromium)

pytestmark = pytest.mark.slow

LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

ASSET = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
  ... on AssetNode { description owners { ... on TeamAssetOwner { team } }
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name type } } } }
  } } }"""

# What the port's asset page shows: the definition's entries and the latest materialization's.
PORT_METADATA = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
  ... on AssetNode { metadataEntries { label }
    assetMaterializations(limit: 1) { metadataEntries { label
      ... on JsonMetadataEntry { jsonString } } } } } }"""

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""

STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


STRACE = shutil.which("strace")
# telemetry must be off by default: the caller's opt-outs (the Makefile exports some) are dropped
OPT_OUTS = {*TELEMETRY_OFF, "DAGSTER_DISABLE_TELEMETRY", "DAGSTER_HOME"}
TRACE = "strace.log"


@pytest.fixture(scope="module")
def ui_data_dir(built_mesh) -> Path:
    """The session's built mesh: its runs and observations are what `make demo` leaves."""
    env, _ = built_mesh
    return env.data_dir


@pytest.fixture(scope="module")
def dagster_dev(ui_data_dir):
    data_dir = ui_data_dir
    env = {k: v for k, v in os.environ.items() if k not in OPT_OUTS}
    env["MESH_DATA_DIR"] = str(data_dir)
    port = free_port()
    log = (data_dir / "dagster-dev.log").open("w")
    traced = strace_argv(data_dir / TRACE, STRACE) if STRACE else []
    proc = subprocess.Popen(
        [*traced, sys.executable, "-m", "mesh_platform.cli", "dev", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: gql(port, LOCATIONS), 180, "the webserver to answer")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # dagster dev stops cleanly on SIGINT
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def domain_asset_keys(domain: str):
    """Everything a domain engineer selects with "Materialize all" in the domain's group."""
    defs = importlib.import_module(f"domains.{domain}.definitions").defs
    return sorted(defs.resolve_asset_graph().materializable_asset_keys)


def loaded_locations(port: int) -> dict[str, str] | None:
    entries = gql(port, LOCATIONS)["workspaceOrError"]["locationEntries"]
    status = {e["name"]: (e["locationOrLoadError"] or {}).get("__typename") for e in entries}
    return status if all(status.values()) else None


def test_one_code_location_per_domain_loads(dagster_dev):
    status = wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    domains = sorted(p.parent.name for p in (REPO / "domains").glob("*/domain.yaml"))
    assert sorted(status) == domains
    assert set(status.values()) == {"RepositoryLocation"}, status


def test_output_port_shows_owner_description_and_columns(dagster_dev):
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    node = gql(dagster_dev, ASSET, {"path": ["artists", "track_catalog"]})["assetNodeOrError"]
    assert {"team": "artists-team"} in node["owners"]
    assert node["description"]
    schema = next(m for m in node["metadataEntries"] if m.get("schema"))
    assert "track_id" in {c["name"] for c in schema["schema"]["columns"]}


def test_output_port_metadata_is_grouped(dagster_dev):
    """Issue 25: a port's page showed ~28-37 flat entries (definition + latest materialization,
    one per publish fact and per rejects count); the publish and the rejects are one entry each."""
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    for path, at_most in ((["artists", "track_catalog"], 23), (["playback", "play_events"], 24)):
        node = gql(dagster_dev, PORT_METADATA, {"path": path})["assetNodeOrError"]
        (materialization,) = node["assetMaterializations"]
        latest = {m["label"]: m for m in materialization["metadataEntries"]}
        labels = [m["label"] for m in node["metadataEntries"]] + list(latest)
        assert len(set(labels)) <= at_most, sorted(labels)
        published = json.loads(latest["mesh/publish"]["jsonString"])
        assert published["address"] == ".".join(path) and published["snapshot_id"]
        assert published["rows"] > 0 and published["contract_checks_passed"] > 0
        assert {"dagster/row_count", "mesh/portal", "dagster/column_schema"} <= set(labels)
        assert not {"mesh/snapshot_id", "mesh/checksum", "mesh/rows_in"} & set(labels)
    rejects = json.loads(latest["mesh/rejects"]["jsonString"])  # play_events splits bad rows
    assert rejects["rows_in"] == rejects["rows_published"] + rejects["rows_rejected"]


def test_materialize_a_domain_from_the_ui(dagster_dev):
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    params = {
        "selector": {
            "repositoryLocationName": "podcasts",
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": key.path} for key in domain_asset_keys("podcasts")],
        },
        "mode": "default",
    }
    launched = gql(dagster_dev, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def finished():
        status = gql(dagster_dev, STATUS, {"id": run_id})["runOrError"]["status"]
        return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None

    assert wait_for(finished, 300, "the run to finish") == "SUCCESS"


GROUPS = """query($location: String!) { repositoryOrError(repositorySelector:
  {repositoryLocationName: $location, repositoryName: "__repository__"}) {
  ... on Repository { assetGroups { groupName } } } }"""


def _open(browser, port: int, path: str, visible: str | re.Pattern, shot: Path):  # noqa: F811
    """The page at ``path`` once ``visible`` shows, screenshotted to ``shot``; its text."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}{path}")
    page.get_by_text(visible).first.wait_for(state="visible", timeout=90_000)
    page.wait_for_timeout(1500)  # let the rest of the page's queries answer
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, f"empty screenshot {shot}"
    return page, page.inner_text("body")


def test_overview_timeline_shows_each_domains_build_runs(dagster_dev, browser, screenshots):  # noqa: F811
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    shot = screenshots / "overview-timeline.png"
    page, text = _open(
        browser, dagster_dev, "/overview/activity/timeline", "playback__materialize", shot
    )
    assert "No runs" not in text
    for domain in ("artists", "listeners", "playback", "podcasts", "recommendations"):
        assert page.get_by_text(f"{domain}__materialize").first.is_visible(), domain
    page.close()


def test_operational_sources_show_observed_not_never_materialized(
    dagster_dev,
    browser,  # noqa: F811
    screenshots,
):
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    shot = screenshots / "playback-group.png"
    page, text = _open(
        browser, dagster_dev, "/locations/playback/asset-groups/playback", "Observed", shot
    )
    assert "never been materialized" not in text
    page.close()
    shot = screenshots / "plays-source.png"
    page, text = _open(
        browser, dagster_dev, "/assets/playback/play_event_stream/plays", "Latest observation", shot
    )
    assert "mesh/last_modified" in text and "Row count" in text
    page.close()


def test_each_location_lists_its_domains_group_only(dagster_dev, browser, screenshots):  # noqa: F811
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    for location in ("artists", "listeners", "recommendations"):  # they read other domains
        repository = gql(dagster_dev, GROUPS, {"location": location})["repositoryOrError"]
        assert [g["groupName"] for g in repository["assetGroups"]] == [location]
    shot = screenshots / "artists-definitions.png"
    groups = re.compile(r"^\d+ assets$")  # the location's groups, each with its asset count
    page, text = _open(browser, dagster_dev, "/locations/artists/assets", groups, shot)
    assert "default" not in text
    page.close()


def test_output_port_page_is_readable_and_links_to_the_portal(
    dagster_dev,
    browser,  # noqa: F811
    screenshots,
):
    wait_for(lambda: loaded_locations(dagster_dev), 180, "code locations")
    shot = screenshots / "track-catalog.png"
    page, text = _open(browser, dagster_dev, "/assets/artists/track_catalog", "Storage", shot)
    assert "artists.marts.track_catalog" in text and "parse_only" not in text
    assert "Raw SQL" not in text and "{{ ref(" not in text
    assert text.count("Join plays (playback.play_events) to artists") == 1  # said once
    assert "dbt/access" not in text
    link = page.locator('a[href$="/products/artists/track_catalog"]')
    assert link.count() >= 1 and link.first.is_visible()
    page.close()


def test_dagster_dev_makes_no_outbound_connection_attempt(dagster_dev, ui_data_dir):
    """Webserver, daemon, code locations and the run launched above: loopback only."""
    if STRACE is None:
        pytest.skip(
            "strace is not installed (`make tools`): the no-outbound test of mesh demo still runs"
        )
    log = (ui_data_dir / TRACE).read_text()
    started = {line.split(maxsplit=1)[0] for line in log.splitlines() if " execve(" in line}
    assert len(started) >= 5, "strace did not follow dagster dev's processes"
    bad = outbound(parse(log))
    assert not bad, f"{len(bad)} outbound network attempt(s) by dagster dev:\n{report(bad)}"

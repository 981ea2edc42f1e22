"""`mesh diff` and the versioning policies on real schema edits in a copy of the Daff mesh.

The copy (``domains/`` and ``dbt_project/`` under pytest's tmp_path) is committed to a fresh
git repository, then edited the way a domain engineer would: a column dropped, one renamed,
types changed and widened, a column added, a NOT NULL added, a key changed in the Soda
contract. No dbt run: schemas come from the YAML files, consumers from the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from mesh_platform.core.declared_schema import (
    declared_port_schemas,
    declared_port_schemas_at,
)
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.lineage import downstream_consumers
from mesh_platform.core.manifest import load_mesh_manifest, manifest_path, project_fingerprint
from mesh_platform.governance.versioning import (
    BREAKING_NEEDS_MAJOR,
    RETIRED_EARLY,
    compare_declarations,
    versioning_findings,
)
from mesh_platform.ports.records import (
    write_published_schema,
)
from tests.ports_support import publish_one_row

from ..conftest import REPO

TODAY = date(2026, 6, 1)
MESH = Path(sys.executable).with_name("mesh")
PLAY_EVENTS_CONSUMERS = {
    # (port, direct, via)
    ("artists.artist_royalties", True, "playback.play_events"),
    ("listeners.monthly_listener_summary", True, "playback.play_events"),
    ("playback.daily_track_plays", True, "playback.play_events"),
    ("playback.listening_sessions", True, "playback.play_events"),
    ("recommendations.listener_taste_profiles", True, "playback.play_events"),
    ("recommendations.weekly_top_tracks", False, "playback.daily_track_plays"),
}


def copy_mesh(target: Path) -> Path:
    """``domains/`` and ``dbt_project/`` (with its manifest, not its logs) under ``target``."""
    target.mkdir(parents=True)
    shutil.copytree(
        REPO / "domains", target / "domains", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        REPO / "dbt_project",
        target / "dbt_project",
        ignore=shutil.ignore_patterns("logs", "dbt_packages", "*.msgpack"),
    )
    return target


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def edit_model_column(root: Path, domain: str, model: str, column: str, **changes) -> None:
    """Change one column of a port's dbt model YAML (``None`` value removes the column)."""
    path = root / "dbt_project" / domain / "models" / "marts" / f"{model}.yml"
    raw = yaml.safe_load(path.read_text())
    (entry,) = (m for m in raw["models"] if m["name"] == model)
    cols = entry["columns"]
    (index,) = (i for i, c in enumerate(cols) if c["name"] == column)
    if changes.get("drop"):
        cols.pop(index)
    else:
        cols[index] = {**cols[index], **changes}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def stamp_manifest(root: Path) -> None:
    """The copy's manifest is the real project's (only YAML schemas were edited, no edge of the
    graph): mark it fresh so `mesh diff` does not re-parse dbt in the copy."""
    for project in (root / "dbt_project").glob("*/dbt_project.yml"):
        manifest_path(project.parent).with_name("mesh_fingerprint.txt").write_text(
            project_fingerprint(project.parent)
        )


@pytest.fixture(scope="module")
def manifest():
    return load_mesh_manifest()


@pytest.fixture(scope="module")
def edited_mesh(tmp_path_factory, manifest) -> Path:
    root = copy_mesh(tmp_path_factory.mktemp("diff") / "mesh")
    git(root, "init", "-q")
    git(root, "add", "domains", "dbt_project")
    git(root, "commit", "-q", "-m", "baseline")
    # playback.play_events: drop `device`, tighten `session_id`
    edit_model_column(root, "playback", "play_events", "device", drop=True)
    edit_model_column(
        root, "playback", "play_events", "session_id", constraints=[{"type": "not_null"}]
    )
    # listeners.listener_profiles: rename `region`, widen `birth_year`
    edit_model_column(root, "listeners", "listener_profiles", "region", name="sales_region")
    edit_model_column(root, "listeners", "listener_profiles", "birth_year", data_type="int8")
    # artists.artist_profiles: bigint → varchar is a type change, not a widening
    edit_model_column(root, "artists", "artist_profiles", "track_count", data_type="varchar")
    # podcasts.podcast_shows: a new column, and an alias spelling that is no change
    path = root / "dbt_project/podcasts/models/marts/podcast_shows.yml"
    raw = yaml.safe_load(path.read_text())
    raw["models"][0]["columns"].append(
        {"name": "rating", "description": "Average rating.", "data_type": "double"}
    )
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    edit_model_column(root, "podcasts", "podcast_shows", "explicit", data_type="BOOL")
    # playback.daily_track_plays: the grain, in the Soda contract's duplicate check
    edit(
        root / "domains/playback/contracts/daily_track_plays.yaml",
        "columns: [event_date, track_id, country_code]",
        "columns: [event_date, track_id]",
    )
    stamp_manifest(root)
    return root


EXPECTED = {
    "playback.play_events": {
        ("column_removed", "device", True),
        ("nullability_tightened", "session_id", True),
    },
    "listeners.listener_profiles": {
        ("column_renamed", "region", True),
        ("type_widened", "birth_year", False),
    },
    "artists.artist_profiles": {("type_changed", "track_count", True)},
    "podcasts.podcast_shows": {("column_added", "rating", False)},
    "playback.daily_track_plays": {("grain_changed", None, True)},
}
VIOLATING = {a for a, changes in EXPECTED.items() if any(b for _, _, b in changes)}


def test_each_edit_is_classified(edited_mesh):
    comparisons = compare_declarations(
        declared_port_schemas_at(edited_mesh, "HEAD"), declared_port_schemas(edited_mesh), TODAY
    )
    found = {
        c.address: {(ch.kind, ch.column, ch.breaking) for ch in c.changes}
        for c in comparisons
        if c.changes
    }
    assert found == EXPECTED
    assert {c.address for c in comparisons if c.violation} == VIOLATING
    assert all(c.version == 1 and c.status in {"changed", "unchanged"} for c in comparisons)


def test_consumers_of_play_events_cross_domains(manifest):
    domains = load_all_domains(REPO / "domains")
    consumers = downstream_consumers(manifest, domains, "playback.play_events", 1)
    assert {(c.port, c.direct, c.via) for c in consumers} == PLAY_EVENTS_CONSUMERS
    direct_domains = {c.domain for c in consumers if c.direct}
    assert {"listeners", "artists", "recommendations"} <= direct_domains
    # no consumer reads a v2 that does not exist
    assert downstream_consumers(manifest, domains, "playback.play_events", 2) == []


def test_mesh_diff_command_on_the_copy(edited_mesh, tmp_path):
    env = {**os.environ, "MESH_DATA_DIR": str(tmp_path / "data")}
    args = ["diff", "--against", "HEAD", "--repo-root", str(edited_mesh), "--format", "json"]
    result = subprocess.run(
        [str(MESH), *args], cwd=edited_mesh, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["baseline"] == "git:HEAD"
    assert report["violations"] == len(VIOLATING)
    ports = {p["address"]: p for p in report["ports"]}
    for address, expected in EXPECTED.items():
        got = {(c["kind"], c["column"], c["breaking"]) for c in ports[address]["changes"]}
        assert got == expected, address
        assert ports[address]["violation"] is (address in VIOLATING)
    consumers = {
        (c["port"], c["direct"], c["via"]) for c in ports["playback.play_events"]["consumers"]
    }
    assert consumers == PLAY_EVENTS_CONSUMERS

    one = subprocess.run(
        [str(MESH), "diff", "podcasts.podcast_shows", *args[1:5]],
        cwd=edited_mesh,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stdout + one.stderr  # an added column breaks nobody
    assert "column_added" in one.stdout and "non-breaking" in one.stdout

    bad = subprocess.run(
        [str(MESH), "diff", "playback.nope", *args[1:5]],
        cwd=edited_mesh,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert "unknown port address" in bad.stdout and "playback.play_events" in bad.stdout


def test_mesh_diff_against_the_published_schema_by_default(edited_mesh, tmp_path):
    data_dir = tmp_path / "data"
    committed = declared_port_schemas_at(edited_mesh, "HEAD")[("playback.play_events", 1)]
    write_published_schema(data_dir / "ports", committed)
    publish_one_row(data_dir / "ports", "playback.play_events", 1)
    result = subprocess.run(
        [str(MESH), "diff", "--repo-root", str(edited_mesh), "--format", "json"],
        cwd=edited_mesh,
        env={**os.environ, "MESH_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["baseline"] == "published"
    ports = {(p["address"], p["version"]): p for p in report["ports"]}
    play_events = ports[("playback.play_events", 1)]
    assert play_events["status"] == "changed" and play_events["violation"]
    kinds = {(c["kind"], c["column"]) for c in play_events["changes"]}
    assert kinds == {("column_removed", "device"), ("nullability_tightened", "session_id")}
    # ports never published have no baseline: reported, never a violation
    assert ports[("listeners.listener_profiles", 1)]["status"] == "new_port"
    assert report["violations"] == 1


def test_against_an_unknown_revision_is_refused(edited_mesh):
    with pytest.raises(ValueError, match="unknown git revision 'nope'"):
        declared_port_schemas_at(edited_mesh, "nope")


# --- versioning findings -------------------------------------------------------------------


def publish(ports_dir: Path, root: Path, address: str, version: int) -> None:
    """What the publish step leaves: a current snapshot and the schema it was published with."""
    schema = declared_port_schemas(root)[(address, version)]
    write_published_schema(ports_dir, schema)
    publish_one_row(ports_dir, address, version)


def add_major(root: Path, *, deprecate_v1: str | None, keep_v1: bool = True) -> None:
    """playback.play_events v2 from its own model `play_events_v2` (`device` dropped)."""
    marts = root / "dbt_project/playback/models/marts"
    raw = yaml.safe_load((marts / "play_events.yml").read_text())
    v2 = {**raw["models"][0], "name": "play_events_v2"}
    v2["columns"] = [c for c in v2["columns"] if c["name"] != "device"]
    (marts / "play_events_v2.yml").write_text(yaml.safe_dump({"models": [v2]}, sort_keys=False))
    contracts = root / "domains/playback/contracts"
    contract = (contracts / "play_events.yaml").read_text()
    (contracts / "play_events_v2.yaml").write_text(
        contract.replace("playback/marts/play_events", "playback/marts/play_events_v2")
    )
    product = root / "domains/playback/products/play_events.yaml"
    raw = yaml.safe_load(product.read_text())
    v1 = raw["output_ports"][0]
    if deprecate_v1:
        v1["deprecation_date"] = deprecate_v1
    v2_port = {
        "name": "play_events",
        "model": "play_events_v2",
        "version": 2,
        "contract": "contracts/play_events_v2.yaml",
    }
    raw["output_ports"] = [v1, v2_port] if keep_v1 else [v2_port]
    product.write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture
def mesh_copy(tmp_path) -> Path:
    return copy_mesh(tmp_path / "mesh")


def test_no_published_data_no_findings(mesh_copy, tmp_path):
    assert versioning_findings(mesh_copy, tmp_path / "no-ports", TODAY) == []


def test_unchanged_published_port_has_no_finding(mesh_copy, tmp_path, manifest):
    ports = tmp_path / "ports"
    publish(ports, mesh_copy, "playback.play_events", 1)
    assert versioning_findings(mesh_copy, ports, TODAY, manifest=manifest) == []


def test_breaking_change_inside_a_major_is_one_finding(mesh_copy, tmp_path, manifest):
    ports = tmp_path / "ports"
    publish(ports, mesh_copy, "playback.play_events", 1)
    edit_model_column(mesh_copy, "playback", "play_events", "device", drop=True)
    (finding,) = versioning_findings(mesh_copy, ports, TODAY, manifest=manifest)
    assert finding.policy == BREAKING_NEEDS_MAJOR
    assert (finding.domain, finding.product, finding.port, finding.field) == (
        "playback",
        "play_events",
        "playback.play_events v1",
        "device",
    )
    assert finding.is_error
    assert "column_removed `device`" in finding.message
    assert "listeners.monthly_listener_summary v1" in finding.message  # a consumer is named
    assert "version: 2" in finding.fix and "deprecation_date" in finding.fix


def test_bumped_major_keeping_the_old_one_deprecated_has_no_finding(mesh_copy, tmp_path, manifest):
    ports = tmp_path / "ports"
    publish(ports, mesh_copy, "playback.play_events", 1)
    add_major(mesh_copy, deprecate_v1="2026-12-31")
    assert versioning_findings(mesh_copy, ports, TODAY, manifest=manifest) == []


def test_dropping_the_old_major_before_its_deprecation_date_is_a_finding(
    mesh_copy, tmp_path, manifest
):
    ports = tmp_path / "ports"
    publish(ports, mesh_copy, "playback.play_events", 1)  # recorded without a deprecation date
    add_major(mesh_copy, deprecate_v1=None, keep_v1=False)
    (finding,) = versioning_findings(mesh_copy, ports, TODAY, manifest=manifest)
    assert finding.policy == RETIRED_EARLY
    assert (finding.domain, finding.product, finding.port, finding.field) == (
        "playback",
        "play_events",
        "playback.play_events v1",
        "deprecation_date",
    )
    assert "without a deprecation date" in finding.message
    assert "artists.artist_royalties v1" in finding.message  # still reads v1


def test_dropping_the_old_major_after_its_deprecation_date_is_fine(mesh_copy, tmp_path, manifest):
    ports = tmp_path / "ports"
    add_major(mesh_copy, deprecate_v1="2026-05-31")
    publish(ports, mesh_copy, "playback.play_events", 1)  # recorded with its deprecation date
    add_major(mesh_copy, deprecate_v1=None, keep_v1=False)
    assert versioning_findings(mesh_copy, ports, TODAY, manifest=manifest) == []

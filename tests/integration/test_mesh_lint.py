"""`mesh lint` over the real Daff mesh (clean) and over a copy with a violation (exit 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mesh_platform.core.environment import get_environment
from mesh_platform.governance.engine import evaluate_mesh

REPO = Path(__file__).resolve().parents[2]
MESH = str(Path(sys.executable).parent / "mesh")


def test_daff_mesh_lints_clean():
    report = evaluate_mesh(get_environment())
    assert [f.line() for f in report.findings] == []
    assert len(report.products) == 15
    summary = report.to_json()["compliance"]
    assert {d["domain"]: d["score"] for d in summary["domains"]} == {
        "artists": 100.0,
        "listeners": 100.0,
        "playback": 100.0,
        "podcasts": 100.0,
        "recommendations": 100.0,
    }


def _copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for part in ("domains", "dbt_project", "governance"):
        shutil.copytree(
            REPO / part, root / part, ignore=shutil.ignore_patterns("target", "logs", "__pycache__")
        )
    return root


@pytest.mark.slow
def test_lint_exits_1_and_names_the_violation(tmp_path):
    root = _copy_repo(tmp_path)
    descriptor = root / "domains" / "podcasts" / "products" / "podcast_shows.yaml"
    data = yaml.safe_load(descriptor.read_text())
    del data["slo"]
    descriptor.write_text(yaml.safe_dump(data, sort_keys=False))
    env = {**os.environ, "MESH_REPO_ROOT": str(root), "MESH_DATA_DIR": str(tmp_path / "data")}

    out = subprocess.run(
        [MESH, "lint", "--format", "json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["errors"] == 1
    (finding,) = report["findings"]
    assert finding == {
        "domain": "podcasts",
        "product": "podcast_shows",
        "port": None,
        "policy": "slo.freshness",
        "field": "slo.freshness_hours",
        "severity": "error",
        "message": "the product declares no freshness SLO, so consumers cannot know how fresh "
        "it is promised to be and nobody is alerted when it is late.",
        "fix": "add `slo: {freshness_hours: <hours>}` to domains/podcasts/products/"
        "podcast_shows.yaml (e.g. 26 for a daily product).",
    }
    shows = next(p for p in report["compliance"]["products"] if p["product"] == "podcast_shows")
    assert shows["compliant"] is False and shows["failing_policies"] == ["slo.freshness"]

    table = subprocess.run([MESH, "lint", "podcasts"], env=env, capture_output=True, text=True)
    assert table.returncode == 1
    assert "✘ error  slo.freshness  podcasts / podcast_shows — field `slo.freshness_hours`" in (
        table.stdout
    )
    assert "✘ not compliant: 2 products" in table.stdout

    other = subprocess.run([MESH, "lint", "artists"], env=env, capture_output=True, text=True)
    assert other.returncode == 0, other.stdout  # one domain's violation is its own

    unknown = subprocess.run([MESH, "lint", "nope"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 2
    assert "unknown domain(s) nope" in unknown.stdout


def test_lint_names_an_operational_source_the_descriptor_does_not_declare(tmp_path):
    """listeners.listener_profiles reads reference.countries through its staging model; with
    that input removed from its descriptor, lint says which model reads which source and the
    exact descriptor line to add (issue 22, friction 3)."""
    root = tmp_path / "repo"
    for part in ("domains", "dbt_project", "governance"):
        # the parsed manifest is kept when present: only a descriptor changes
        shutil.copytree(
            REPO / part, root / part, ignore=shutil.ignore_patterns("logs", "__pycache__")
        )
    descriptor = root / "domains" / "listeners" / "products" / "listener_profiles.yaml"
    text = descriptor.read_text()
    declared = (
        "  - kind: file_drop\n"
        "    source: reference.countries\n"
        "    description: Reference countries CSV, for the listener's region.\n"
    )
    assert declared in text
    descriptor.write_text(text.replace(declared, ""))
    env = {**os.environ, "MESH_REPO_ROOT": str(root), "MESH_DATA_DIR": str(tmp_path / "data")}

    out = subprocess.run(
        [MESH, "lint", "listeners", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)
    (finding,) = report["findings"]
    assert finding["policy"] == "boundaries.operational-input-declared"
    assert (finding["domain"], finding["product"]) == ("listeners", "listener_profiles")
    assert finding["message"] == (
        "model listener_profiles reads source reference.countries of operational system "
        "reference (through model stg_reference__countries), which product listener_profiles "
        "does not declare as an input, so its lineage and catalog entry miss it."
    )
    assert finding["fix"] == (
        "add `- {kind: file_drop, source: reference.countries}` to `input_ports` of "
        "domains/listeners/products/listener_profiles.yaml."
    )

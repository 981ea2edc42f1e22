"""`mesh new product` with several inputs in one command (issue 22, friction 2): repeated
`--from-port` and `--source` give the sources YAML, one staging model per input, every input
in the descriptor, and a port model joining them — which dbt parses and `mesh lint` passes.

Runs the real `mesh` command on a copy of the sources (the parsed manifest is copied when
present), with a small reference file as the operational source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO

MESH = str(Path(sys.executable).parent / "mesh")
COUNTRIES = "country_code,country_name,region\nDE,Germany,Europe\nFR,France,Europe\n"


@pytest.fixture
def mesh_copy(tmp_path):
    root = tmp_path / "repo"
    for part in ("domains", "dbt_project", "governance"):
        shutil.copytree(
            REPO / part, root / part, ignore=shutil.ignore_patterns("logs", "__pycache__")
        )
    for name in ("workspace.yaml", "pyproject.toml"):
        shutil.copy2(REPO / name, root / name)
    reference = tmp_path / "data" / "operational" / "reference"
    reference.mkdir(parents=True)
    (reference / "countries.csv").write_text(COUNTRIES)
    env = {**os.environ, "MESH_REPO_ROOT": str(root), "MESH_DATA_DIR": str(tmp_path / "data")}
    return root, env


def mesh(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([MESH, *args], env=env, capture_output=True, text=True, timeout=600)


def test_one_command_scaffolds_a_product_over_two_ports_and_a_source(mesh_copy):
    root, env = mesh_copy
    out = mesh(
        env,
        "new",
        "product",
        "recommendations",
        "track_country_plays",
        "--from-port",
        "playback.daily_track_plays",
        "--from-port",
        "artists.track_catalog",
        "--source",
        "recommendations_reference.countries=file_drop:reference/countries.csv",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # what is left to decide is said, once per joined input
    notes = " ".join(out.stdout.split())
    assert "stg_recommendations_artists_ports__track_catalog is left-joined on track_id" in notes
    assert "stg_recommendations_reference__countries is left-joined on country_code" in notes

    models = root / "dbt_project" / "recommendations" / "models"
    sources = yaml.safe_load((models / "staging" / "_recommendations__sources.yml").read_text())
    tables = {
        (s["name"], t["name"]): (t.get("config") or {}).get("meta", {})
        for s in sources["sources"]
        for t in s["tables"]
    }
    assert tables[("recommendations_artists_ports", "track_catalog")]["mesh_port"] == (
        "artists.track_catalog"
    )
    assert ("recommendations_reference", "countries") in tables
    for staging in (
        "stg_recommendations_playback_ports__daily_track_plays",
        "stg_recommendations_artists_ports__track_catalog",
        "stg_recommendations_reference__countries",
    ):
        assert (models / "staging" / f"{staging}.sql").exists(), staging

    descriptor = yaml.safe_load(
        (root / "domains/recommendations/products/track_country_plays.yaml").read_text()
    )
    assert [(i["kind"], i.get("port") or i.get("source")) for i in descriptor["input_ports"]] == [
        ("output_port", "playback.daily_track_plays"),
        ("output_port", "artists.track_catalog"),
        ("file_drop", "recommendations_reference.countries"),
    ]
    assert descriptor["automation"]["kind"] == "schedule"  # an operational input: no eager

    sql = (models / "marts" / "track_country_plays.sql").read_text()
    assert "left join track_catalog on daily_track_plays.track_id = track_catalog.track_id" in sql
    assert "left join countries on daily_track_plays.country_code = countries.country_code" in sql
    assert "as region" in sql  # a column of the joined source

    # dbt parses the new models, and the product is compliant as generated
    prepared = mesh(env, "prepare")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    lint = mesh(env, "lint", "recommendations")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # and its files are already what `mesh new sync` derives
    assert (
        "nothing to change"
        in mesh(env, "new", "sync", "recommendations", "track_country_plays").stdout
    )


def test_inputs_without_a_shared_key_are_left_for_the_team_to_join(mesh_copy):
    root, env = mesh_copy
    out = mesh(
        env,
        "new",
        "product",
        "artists",
        "show_regions",
        "--from-port",
        "podcasts.podcast_shows",
        "--source",
        "artists_reference.countries=file_drop:reference/countries.csv",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    notes = " ".join(out.stdout.split())
    assert (
        "decide: how stg_artists_reference__countries joins "
        "stg_artists_podcasts_ports__podcast_shows (no shared key column)" in notes
    )
    sql = (root / "dbt_project/artists/models/marts/show_regions.sql").read_text()
    assert "-- TODO(mesh new product): join countries to podcast_shows" in sql
    assert "ref('stg_artists_reference__countries')" in sql  # read: lineage and inputs hold
    lint = mesh(env, "lint", "artists")
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_source_flag_is_the_same_product_as_the_source_kind_flags(mesh_copy):
    _, env = mesh_copy
    common = ["new", "product", "artists", "country_list", "--dry-run"]
    long = mesh(
        env,
        *common,
        "--source-kind",
        "file_drop",
        "--path",
        "reference/countries.csv",
        "--system",
        "artists_reference",
    )
    short = mesh(
        env, *common, "--source", "artists_reference.countries=file_drop:reference/countries.csv"
    )
    assert long.returncode == 0, long.stdout + long.stderr
    assert short.stdout == long.stdout


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("reference/countries.csv", "invalid --source 'reference/countries.csv'"),
        ("ftp:reference/countries.csv", "KIND one of file_drop, api, event_stream, database"),
        ("database:crm_db", "[SYSTEM=]database:CONNECTION.TABLE"),
    ],
)
def test_a_bad_source_spec_exits_2_saying_the_form(mesh_copy, spec, message):
    _, env = mesh_copy
    out = mesh(env, "new", "product", "artists", "x", "--source", spec)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in " ".join(out.stdout.split())

"""`mesh new sync` is a merge: it owns the column list and types derived from the port SQL and
keeps everything else in the model YAML and the Soda contract (issue 22, friction 1).

Each test runs the real `mesh` command on a copy of the sources holding one product written
the way the README says (cast + comment per column), with a model YAML a team has grown:
model and column tests, unit tests, constraints, meta, doc blocks, comments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mesh_platform.core import yaml_io

from ..conftest import REPO

MESH = str(Path(sys.executable).parent / "mesh")
MARTS = Path("dbt_project/podcasts/models/marts")
SQL = MARTS / "show_stats.sql"
YML = MARTS / "show_stats.yml"
CONTRACT = Path("domains/podcasts/contracts/show_stats.yaml")

DESCRIPTOR = """\
name: show_stats
domain: podcasts
description: >
  One row per podcast show with its episode count, for the editorial team's weekly review of
  the catalog.
owner:
  team: podcasts-team
  contact: podcasts@daff.example
tier: aggregate
classification: internal
input_ports:
  - kind: api
    source: podcast_api.pages
output_ports:
  - name: show_stats
    model: show_stats
    version: 1
    contract: contracts/show_stats.yaml
    example: select * from podcasts.show_stats limit 10
slo:
  freshness_hours: 26
automation:
  kind: schedule
  cron: "0 4 * * *"
"""

PORT_SQL = """\
-- Output port podcasts.show_stats.
with

shows as (

    select * from {{ ref('stg_podcast_api__shows') }}

),

final as (

    select
        cast(show_id as varchar) as show_id,  -- Identifier of the show.
        cast(title as varchar) as title,  -- Title of the show.
        cast(episode_count as bigint) as episode_count,  -- Episodes published so far.
        cast(created_at as timestamp) as created_at  -- When the show was created (UTC).

    from shows

)

select * from final
"""

# What a team adds over time; sync owns none of it but the column list, types, descriptions.
MODEL_YAML = """\
version: 2

models:
  - name: show_stats
    description: '{{ doc("show_stats") }}'
    config:
      contract: {enforced: true}
      materialized: table
      meta: {owner_note: reviewed weekly}
    data_tests:
      - dbt_utils.expression_is_true:
          arguments: {expression: "episode_count >= 0"}
    columns:
      - name: show_id
        description: Identifier of the show.
        data_type: varchar
        constraints: [{type: not_null}, {type: primary_key}]
        data_tests: [unique]  # one row per show
      - name: title
        description: '{{ doc("show_title") }}'
        data_type: varchar
        meta: {searchable: true}
      - name: episode_count
        description: Episodes published so far.
        data_type: bigint
        constraints: [{type: check, expression: "episode_count >= 0"}]
      - name: created_at
        description: When the show was created (UTC).
        data_type: timestamp

unit_tests:
  - name: counts_episodes
    model: show_stats
    given:
      - input: ref('stg_podcast_api__shows')
        rows: [{show_id: a, title: A, episode_count: 2, created_at: 2026-01-01}]
    expect:
      rows: [{show_id: a, episode_count: 2}]
"""

CONTRACT_YAML = """\
dataset: podcasts/marts/show_stats
description: Contract of the output port podcasts.show_stats (v1).
columns:
  - name: show_id
    data_type: varchar
    checks:
      - missing:
      - duplicate:
  - name: title
    data_type: varchar
  - name: episode_count
    data_type: bigint
    checks:
      - invalid:
          valid_min: 0
  - name: created_at
    data_type: timestamp
checks:
  - schema:
  - row_count:
      threshold: {must_be_greater_than: 0}
"""


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for part in ("domains", "governance"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        REPO / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("logs", "target")
    )
    shutil.copy2(REPO / "workspace.yaml", root / "workspace.yaml")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "domains/podcasts/products/show_stats.yaml").write_text(DESCRIPTOR)
    (root / SQL).write_text(PORT_SQL)
    (root / YML).write_text(MODEL_YAML)
    (root / CONTRACT).write_text(CONTRACT_YAML)
    return root


def sync(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MESH_REPO_ROOT": str(root), "MESH_DATA_DIR": str(root / "data")}
    return subprocess.run(
        [MESH, "new", "sync", "podcasts", "show_stats"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sync_of_an_unchanged_product_changes_no_byte(repo):
    out = sync(repo)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "nothing to change" in out.stdout
    assert (repo / YML).read_text() == MODEL_YAML
    assert (repo / CONTRACT).read_text() == CONTRACT_YAML


def test_sync_keeps_tests_constraints_meta_and_docs_it_does_not_own(repo):
    sql = PORT_SQL.replace(
        "cast(episode_count as bigint) as episode_count,  -- Episodes published so far.",
        "cast(episode_count as integer) as episode_count,  -- Episodes published so far.\n"
        "        cast(language as varchar) as language,  -- Language of the show (ISO 639-1).",
    )
    (repo / SQL).write_text(sql)
    out = sync(repo)
    assert out.returncode == 0, out.stdout + out.stderr

    text = (repo / YML).read_text()
    doc = yaml.safe_load(text)
    (model,) = doc["models"]
    assert doc["version"] == 2
    assert doc["unit_tests"] == yaml.safe_load(MODEL_YAML)["unit_tests"]
    assert model["description"] == '{{ doc("show_stats") }}'
    assert model["config"] == {
        "contract": {"enforced": True},
        "materialized": "table",
        "meta": {"owner_note": "reviewed weekly"},
    }
    assert model["data_tests"] == yaml.safe_load(MODEL_YAML)["models"][0]["data_tests"]
    by_name = {c["name"]: c for c in model["columns"]}
    assert [c["name"] for c in model["columns"]] == [
        "show_id",
        "title",
        "episode_count",
        "language",
        "created_at",
    ]
    assert by_name["show_id"]["constraints"] == [{"type": "not_null"}, {"type": "primary_key"}]
    assert by_name["show_id"]["data_tests"] == ["unique"]
    assert by_name["title"]["description"] == '{{ doc("show_title") }}'
    assert by_name["title"]["meta"] == {"searchable": True}
    # the type sync derives from the SQL; the team's constraint stays with the column
    assert by_name["episode_count"]["data_type"] == "integer"
    assert by_name["episode_count"]["constraints"][0]["type"] == "check"
    assert by_name["language"] == {
        "name": "language",
        "description": "Language of the show (ISO 639-1).",
        "data_type": "string",  # the portable spelling (DuckDB and Spark)
    }
    # only the lines of what changed move: the comment and the layout of the rest are kept
    assert "data_tests: [unique]  # one row per show" in text
    old_lines = MODEL_YAML.splitlines()
    new_lines = text.splitlines()
    assert [line for line in old_lines if line not in new_lines] == ["        data_type: bigint"]

    contract = yaml.safe_load((repo / CONTRACT).read_text())
    assert contract["checks"] == [
        {"schema": None},
        {"row_count": {"threshold": {"must_be_greater_than": 0}}},
    ]
    checks = {c["name"]: c.get("checks") for c in contract["columns"]}
    assert checks["show_id"] == [{"missing": None}, {"duplicate": None}]
    assert checks["episode_count"] is None  # written for bigint; the type changed
    assert [c["name"] for c in contract["columns"]] == list(by_name)


def test_sync_twice_is_stable(repo):
    (repo / SQL).write_text(
        PORT_SQL.replace("as bigint) as episode_count", "as integer) as episode_count")
    )
    assert sync(repo).returncode == 0
    first = (repo / YML).read_text(), (repo / CONTRACT).read_text()
    out = sync(repo)
    assert "nothing to change" in out.stdout
    assert ((repo / YML).read_text(), (repo / CONTRACT).read_text()) == first


def test_a_jinja_for_loop_in_the_final_select_is_refused_naming_file_and_line(repo):
    sql = PORT_SQL.replace(
        "        cast(created_at as timestamp) as created_at  -- When the show was created (UTC).\n",
        "        cast(created_at as timestamp) as created_at,  -- When the show was created (UTC).\n"
        "        {% for m in ['a','b'] %} sum(x) as {{m}}_amount {% endfor %}\n",
    )
    (repo / SQL).write_text(sql)
    out = sync(repo)
    assert out.returncode == 2, out.stdout + out.stderr
    message = " ".join(out.stdout.split())
    line = sql.splitlines().index(next(x for x in sql.splitlines() if "{% for" in x)) + 1
    assert f"{SQL}:{line}: cannot infer the columns of a Jinja `for` block" in message
    assert "__jinja" not in message
    assert (repo / YML).read_text() == MODEL_YAML


def test_a_column_named_with_jinja_is_refused(repo):
    sql = PORT_SQL.replace("as title,  -- Title", "as {{ var('title_column') }},  -- Title")
    (repo / SQL).write_text(sql)
    out = sync(repo)
    assert out.returncode == 2, out.stdout + out.stderr
    message = " ".join(out.stdout.split())
    assert f"{SQL}:14: cannot infer the name of column `{{{{ var('title_column') }}}}`" in message


def test_jinja_outside_the_final_select_is_fine(repo):
    sql = PORT_SQL.replace(
        "    from shows\n",
        "    from shows\n    {% if is_incremental() %} where created_at > '2026-01-01' {% endif %}\n",
    )
    (repo / SQL).write_text(sql)
    out = sync(repo)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_yaml_of_the_mesh_round_trips_byte_for_byte():
    """What makes a merge byte-stable: ruamel writes back every model YAML, Soda contract
    and descriptor of the mesh exactly as it read it."""
    files = [
        *sorted((REPO / "dbt_project").glob("*/models/**/*.yml")),
        *sorted((REPO / "domains").rglob("*.yaml")),
    ]
    assert files
    for path in files:
        text = path.read_text()
        assert yaml_io.round_trip_dump(*yaml_io.round_trip_load(text)) == text, path

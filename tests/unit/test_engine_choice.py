"""Each domain picks its engine in domain.yaml; one run may build every domain on another
(`MESH_ENGINE`, `mesh materialize --engine`); a typo fails before anything runs, by name.
The engine changes what builds a domain, not what the domain is: the same assets, lineage and
checks, shown with the engine's kind."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from mesh_platform.build.definitions import build_domain_definitions
from mesh_platform.core.descriptor import DescriptorError
from mesh_platform.core.domain import load_domain
from mesh_platform.core.engine import EngineError, resolve_engine

from ..conftest import REPO


def test_duckdb_is_the_default_and_a_run_overrides_the_domains_choice(monkeypatch):
    monkeypatch.delenv("MESH_ENGINE", raising=False)
    assert resolve_engine(None) == "duckdb"
    assert resolve_engine("spark") == "spark"
    monkeypatch.setenv("MESH_ENGINE", "duckdb")
    assert resolve_engine("spark") == "duckdb"
    monkeypatch.setenv("MESH_ENGINE", "Spark")
    assert resolve_engine(None) == "spark"


def test_an_unknown_engine_is_refused_naming_where_it_was_set(monkeypatch, tmp_path):
    monkeypatch.setenv("MESH_ENGINE", "trino")
    with pytest.raises(EngineError, match="MESH_ENGINE: unknown engine 'trino'.*duckdb or spark"):
        resolve_engine(None)
    monkeypatch.delenv("MESH_ENGINE")
    domain = tmp_path / "artists"
    shutil.copytree(REPO / "domains" / "artists", domain)
    text = (domain / "domain.yaml").read_text()
    (domain / "domain.yaml").write_text(text + "engine: snowflake\n")
    with pytest.raises(DescriptorError, match="domain.yaml.*`engine`"):
        load_domain(domain)


def test_cli_refuses_an_unknown_engine_before_running_anything():
    from typer.testing import CliRunner

    from mesh_platform.cli.app import app

    result = CliRunner().invoke(app, ["materialize", "artists", "--engine", "oracle"])
    assert result.exit_code == 2
    assert "unknown engine 'oracle'" in result.output


@pytest.fixture(scope="module")
def on_each_engine():
    graphs = {}
    patch = pytest.MonkeyPatch()
    for engine in ("duckdb", "spark"):
        patch.setenv("MESH_ENGINE", engine)
        graphs[engine] = build_domain_definitions(REPO / "domains" / "playback")
    patch.undo()
    return graphs


def test_a_spark_domain_has_the_same_assets_lineage_and_checks(on_each_engine):
    duck = on_each_engine["duckdb"].resolve_asset_graph()
    spark = on_each_engine["spark"].resolve_asset_graph()
    assert duck.get_all_asset_keys() == spark.get_all_asset_keys()
    for key in duck.materializable_asset_keys:
        assert duck.get(key).parent_keys == spark.get(key).parent_keys, key
        assert duck.get(key).check_keys == spark.get(key).check_keys, key
        assert duck.get(key).automation_condition == spark.get(key).automation_condition


def test_the_asset_says_which_engine_builds_it(on_each_engine):
    key = dg.AssetKey(["playback", "play_events"])
    for engine, defs in on_each_engine.items():
        node = defs.resolve_asset_graph().get(key)
        assert node.metadata["mesh/engine"] == engine
        other = "duckdb" if engine == "spark" else "spark"
        assert {"dbt", engine} <= set(node.kinds) and other not in node.kinds
    spark = on_each_engine["spark"].resolve_asset_graph().get(key)
    assert spark.metadata["dagster/table_name"] == "spark_catalog.marts.play_events"
    resource = on_each_engine["spark"].resources["dbt"]
    assert resource.target == "spark"
    assert on_each_engine["duckdb"].resources["dbt"].target is None

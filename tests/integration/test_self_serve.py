"""Self-serve end to end, in a temporary copy of the mesh: `mesh new domain`, two products
(one from an operational file drop, one from another domain's published port), then lint,
materialize, the published port, the catalog entry and the cross-domain lineage edge.

The copy holds the sources only (domains/, dbt_project/, governance/, infra/, workspace.yaml);
MESH_REPO_ROOT and MESH_DATA_DIR point the real `mesh` command at it. Upstream data: a tiny
generated Daff (scale 0.01) with only podcasts materialized.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mesh_platform.ports.records import read_published_schema
from tests.ports_support import port_sql

from ..conftest import REPO

BIN = Path(sys.executable).parent
MESH = str(BIN / "mesh")
SOURCES = ("domains", "dbt_project", "governance", "infra", "workspace.yaml", "pyproject.toml")
IGNORE = shutil.ignore_patterns("logs", "dbt_packages", "__pycache__", "*.msgpack")

pytestmark = pytest.mark.slow
SQL = duckdb.connect()


def copy_sources(root: Path) -> Path:
    root.mkdir(parents=True)
    for part in SOURCES:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, root / part, ignore=IGNORE)
        else:
            shutil.copy2(src, root / part)
    (root / "tests").mkdir()
    for name in ("__init__.py", "conftest.py"):
        shutil.copy2(REPO / "tests" / name, root / "tests" / name)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "target" not in p.parts and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def mesh_copy(tmp_path_factory):
    """A copy of the sources, with podcasts generated (scale 0.01) and published."""
    base = tmp_path_factory.mktemp("self-serve")
    root = copy_sources(base / "repo")
    env = {
        **os.environ,
        "MESH_REPO_ROOT": str(root),
        "MESH_DATA_DIR": str(base / "data"),
    }
    # a failure here must not leave the copy as every later test's repository
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESH_REPO_ROOT", str(root))
        mp.setenv("MESH_DATA_DIR", str(base / "data"))
        run(env, "generate", "--scale", "0.01")
        run(env, "materialize", "podcasts")
        yield root, env


def run(env, *args, check=True) -> subprocess.CompletedProcess:
    out = subprocess.run([MESH, *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def scaffolded(mesh_copy):
    root, env = mesh_copy
    run(env, "new", "domain", "merch", "--owner", "merch-team", "--contact", "merch@daff.example")
    run(
        env,
        "new",
        "product",
        "merch",
        "country_list",
        "--source-kind",
        "file_drop",
        "--path",
        "reference/countries.csv",
        "--system",
        "merch_reference",
    )
    run(env, "new", "product", "merch", "show_picks", "--from-port", "podcasts.podcast_shows")
    return root, env


def test_scaffold_lints_clean(scaffolded):
    _, env = scaffolded
    out = run(env, "lint", "merch")
    assert "✔ compliant: 2 products" in out.stdout


def test_materialize_publishes_both_products(scaffolded):
    root, env = scaffolded
    out = run(env, "materialize", "merch")
    assert "merch.country_list v1: " in out.stdout and "merch.show_picks v1: " in out.stdout
    ports = Path(env["MESH_DATA_DIR"]) / "ports"
    shows = SQL.execute(f"select count(*) from {port_sql(ports, 'merch.show_picks')}").fetchone()
    upstream = port_sql(ports, "podcasts.podcast_shows")
    assert shows == SQL.execute(f"select count(*) from {upstream}").fetchone()
    countries = SQL.execute(
        "select count(*), count(distinct country_code) from "
        + port_sql(ports, "merch.country_list")
    ).fetchone()
    assert countries[0] > 0 and countries[0] == countries[1]
    assert read_published_schema(ports, "merch", "show_picks", 1) is not None


def test_catalog_lists_the_new_product_and_its_upstream(scaffolded):
    from mesh_platform.catalog.build import build_catalog
    from mesh_platform.core.environment import get_environment

    catalog = build_catalog(get_environment())
    entry = catalog.product("merch.show_picks")
    assert entry.owner_team == "merch-team"
    assert entry.upstream == ["podcasts.podcast_shows"]
    assert "merch.country_list" in catalog.products


def test_definitions_load_with_the_cross_domain_lineage_edge(scaffolded):
    root, _ = scaffolded
    spec = importlib.util.spec_from_file_location(
        "merch_definitions", root / "domains" / "merch" / "definitions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = module.defs.resolve_asset_graph()
    staging = graph.get(dg.AssetKey(["merch", "stg_merch_podcasts_ports__podcast_shows"]))
    assert dg.AssetKey(["podcasts", "podcast_shows"]) in staging.parent_keys
    port = graph.get(dg.AssetKey(["merch", "show_picks"]))
    assert port.metadata["mesh/address"] == "merch.show_picks"
    assert port.owners == ["team:merch-team"]


def test_generated_python_is_formatted_and_lint_clean_and_its_tests_pass(scaffolded):
    root, env = scaffolded
    files = [str(p) for p in (root / "domains" / "merch").rglob("*.py")]
    files += [str(p) for p in (root / "tests" / "domains").rglob("*.py")]
    ruff = str(BIN / "ruff")
    config = ["--config", str(REPO / "pyproject.toml")]
    for args in (["check", *config, *files], ["format", *config, "--check", *files]):
        out = subprocess.run([ruff, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
    tests = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests/domains"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "4 passed" in tests.stdout  # 2 domain tests + 1 per product


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["new", "domain", "merch", "--owner", "x-team", "--contact", "x@daff.example"],
            "domain 'merch' already exists",
        ),
        (
            ["new", "domain", "Bad-Name", "--owner", "x-team", "--contact", "x@daff.example"],
            "invalid domain name 'Bad-Name'",
        ),
        (
            ["new", "domain", "shop", "--owner", "shop-team", "--contact", "not-an-email"],
            "invalid contact e-mail 'not-an-email'",
        ),
        (
            ["new", "product", "nowhere", "orders", "--from-port", "podcasts.podcast_shows"],
            "unknown domain 'nowhere'",
        ),
        (
            ["new", "product", "merch", "show_picks", "--from-port", "podcasts.podcast_shows"],
            "product merch.show_picks already exists",
        ),
        (
            ["new", "product", "merch", "picks", "--from-port", "podcasts.nope"],
            "unknown upstream port 'podcasts.nope'",
        ),
        (
            ["new", "product", "merch", "2picks", "--from-port", "podcasts.podcast_shows"],
            "invalid product name '2picks'",
        ),
        (["remove", "domain", "podcasts"], "merch.show_picks (reads podcasts.podcast_shows v1)"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(scaffolded, args, message):
    root, env = scaffolded
    before = tree(root)
    out = run(env, *args, check=False)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in " ".join(out.stdout.split())
    assert tree(root) == before

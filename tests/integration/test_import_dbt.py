"""`mesh import dbt` end to end, in a temporary copy of the mesh (a git repository).

The fixture project (tests/fixtures/dbt_projects/shop: seeds as raw data, staging and marts,
its own generate_schema_name, generic and singular tests, a unit test, a docs block, and a
staging model named like one of the Daff listeners domain's) is imported as domain `shop`
with two ports. Then, with no hand edit: lint is clean, the whole mesh builds as `make demo`
builds it (Daff's five domains and the imported one), the ports are published and in the
catalog, and the domain's code location holds its assets, its dbt tests and its contract as
Dagster checks.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from tests.ports_support import port_sql

from ..conftest import REPO
from .test_self_serve import copy_sources, run

pytestmark = pytest.mark.slow
SHOP = REPO / "tests" / "fixtures" / "dbt_projects" / "shop"
IMPORT = [
    "import",
    "dbt",
    str(SHOP),
    "--domain",
    "shop",
    "--owner",
    "shop-team",
    "--contact",
    "shop@daff.example",
    "--port",
    "customers",
    "--port",
    "orders",
    "--member",
    "nora.k",
]


def git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The mesh copy after the import, with Daff generated (scale 0.01) and everything built."""
    base = tmp_path_factory.mktemp("import-dbt")
    root = copy_sources(base / "repo")
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text())
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "before the import")
    env = {
        **__import__("os").environ,
        "MESH_REPO_ROOT": str(root),
        "MESH_DATA_DIR": str(base / "data"),
    }
    # a failure here must not leave the copy as every later test's repository
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESH_REPO_ROOT", str(root))
        mp.setenv("MESH_DATA_DIR", str(base / "data"))
        dry = run(env, *IMPORT, "--dry-run")
        assert not (root / "dbt_project" / "shop").exists()  # a dry run writes nothing
        out = run(env, *IMPORT)
        run(env, "generate", "--scale", "0.01")
        built = run(env, "materialize")  # what `make demo` builds, the import included
        yield root, env, dry.stdout, out.stdout, built.stdout


def test_the_project_comes_over_as_it_is(imported):
    root, _, dry, out, _ = imported
    project = root / "dbt_project" / "shop"
    for rel in (
        "models/marts/customers.sql",
        "models/marts/orders.sql",
        "models/staging/stg_reference__countries.sql",
        "macros/generate_schema_name.sql",
        "macros/cents_to_dollars.sql",
        "models/docs.md",
        "seeds/raw_orders.csv",
        "tests/assert_order_amount_matches_payments.sql",
    ):
        assert (project / rel).read_text() == (SHOP / rel).read_text(), rel
    assert not (project / "profiles.yml").exists()  # the mesh's profile builds the domain
    settings = yaml.safe_load((project / "dbt_project.yml").read_text())
    assert settings["name"] == "shop_analytics" and settings["profile"] == "mesh"
    assert settings["models"]["shop_analytics"]["+group"] == "shop"
    marts = yaml.safe_load((project / "models/marts/_marts.yml").read_text())
    assert [u["name"] for u in marts["unit_tests"]] == ["orders_split_payments_by_method"]
    # the report names what it changed, what the owner must still decide, and nothing refused
    assert "refused (0)" in out and "file profiles.yml: not carried" in out
    assert "test non_negative_orders_amount: kept as a dbt test" in out
    assert "columns without a description" in out and "describe them in" in out
    assert "dry run" in dry and "+ create dbt_project/shop/models/marts/orders.sql" in dry


def test_each_port_gets_a_descriptor_and_a_contract_from_its_tests(imported):
    root, *_ = imported
    product = yaml.safe_load((root / "domains/shop/products/customers.yaml").read_text())
    assert product["status"] == "draft" and product["classification"] == "restricted"
    assert {"kind": "seed", "source": "seeds.raw_customers"} in [
        {k: i[k] for k in ("kind", "source")} for i in product["input_ports"] if "source" in i
    ]
    assert product["output_ports"][0]["carries_pii"] is True  # raw e-mail, as the SQL builds it
    contract = yaml.safe_load((root / "domains/shop/contracts/orders.yaml").read_text())
    checks = {c["name"]: c.get("checks") or [] for c in contract["columns"]}
    assert {"missing": None} in checks["order_id"] and {"duplicate": None} in checks["order_id"]
    (status,) = (c["invalid"] for c in checks["status"] if "invalid" in c)
    assert status["valid_values"] == [
        "placed",
        "shipped",
        "completed",
        "return_pending",
        "returned",
    ]
    assert any("valid_reference_data" in (c.get("invalid") or {}) for c in checks["customer_id"])


def test_the_member_joins_the_owner_team(imported):
    root, *_ = imported
    users = yaml.safe_load((root / "governance/access/users.yaml").read_text())
    nora = users["users"]["nora.k"]
    assert "shop-team" in [nora.get("team"), *(nora.get("teams") or [])]


def test_lint_is_clean_and_the_whole_mesh_builds_with_the_import(imported):
    root, env, _, _, built = imported
    assert "✔ compliant" in run(env, "lint", "shop").stdout
    assert "shop.customers v1: 25 rows published" in built
    assert "shop.orders v1: 40 rows published" in built
    ports = Path(env["MESH_DATA_DIR"]) / "ports"
    for address in (
        "shop/customers",
        "shop/orders",
        "playback/play_events",
        "listeners/listener_profiles",
    ):
        assert port_sql(ports, address.replace("/", ".")), address
    orders = port_sql(ports, "shop.orders")
    assert duckdb.connect().execute(f"select sum(amount) from {orders}").fetchone()[0] > 0


def test_catalog_shows_the_draft_port(imported):
    _, env, *_ = imported
    out = run(env, "catalog", "show", "shop.customers").stdout
    assert "shop.customers" in out and "draft" in out and "25 rows" in out


def test_the_code_location_has_the_assets_the_dbt_tests_and_the_contract(imported):
    root, *_ = imported
    spec = importlib.util.spec_from_file_location(
        "shop_definitions", root / "domains/shop/definitions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = module.defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert dg.AssetKey(["shop", "customers"]) in keys
    assert dg.AssetKey(["shop", "stg_reference__countries"]) in keys  # named like a listeners model
    checks = {
        k.name for k in graph.asset_check_keys if k.asset_key == dg.AssetKey(["shop", "orders"])
    }
    assert "unique_orders_order_id" in checks  # the project's own dbt test
    assert (
        "accepted_values_orders_status__placed__shipped__completed__return_pending__returned"
        in checks
    )
    assert any(name.startswith("contract__") for name in checks)  # the Soda contract
    assert graph.get(dg.AssetKey(["shop", "customers"])).owners == ["team:shop-team"]
    assert graph.get(dg.AssetKey(["shop", "raw_orders"])).owners == ["team:shop-team"]  # a seed


def test_the_change_is_only_what_the_import_says(imported):
    root, *_ = imported
    changed = {line[3:] for line in git(root, "status", "--porcelain", "-uall").splitlines()}
    assert {p for p in changed if not p.startswith(("dbt_project/shop/", "domains/shop/"))} == {
        "governance/teams.yaml",
        "governance/access/users.yaml",
        "workspace.yaml",
        "infra/helm/values.yaml",
        "infra/k8s/volumes.yaml",  # the new domain's own volume
        "infra/k8s/sources.yaml",
        "tests/domains/__init__.py",
        "tests/domains/shop/__init__.py",
        "tests/domains/shop/test_definitions.py",
    }


def test_bad_imports_are_refused_by_name_and_write_nothing(imported, tmp_path):
    root, env, *_ = imported
    before = git(root, "status", "--porcelain", "-uall")
    renamed = {
        "shop": "shop_two",
        "shop-team": "shop-two-team",
        "shop@daff.example": "two@daff.example",
    }
    again = run(env, *[renamed.get(a, a) for a in IMPORT], check=False)
    assert again.returncode == 2
    assert (
        "domain shop's dbt project is already named 'shop_analytics'" in again.stdout + again.stderr
    )
    outlet = tmp_path / "outlet"
    shutil.copytree(SHOP, outlet)
    project = outlet / "dbt_project.yml"
    project.write_text(project.read_text().replace("name: shop_analytics", "name: outlet"))
    missing = [*IMPORT[:2], str(outlet), "--domain", "outlet", "--owner", "outlet-team"]
    missing += ["--contact", "outlet@daff.example", "--port", "customers", "--port", "basket"]
    nope = run(env, *missing, check=False)
    assert nope.returncode == 2 and "--port basket: no model 'basket'" in nope.stdout + nope.stderr
    assert git(root, "status", "--porcelain", "-uall") == before

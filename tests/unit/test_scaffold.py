"""Scaffolding units: validation, file plans, line-level edits, columns from the port SQL.

Domain plans run on a copy of the sources (no dbt run); product plans only for bad arguments,
which are refused before any dbt parse is needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mesh_platform.access.service import AccessService
from mesh_platform.cli.app import app
from mesh_platform.core.environment import get_environment
from mesh_platform.governance.config import load_governance
from mesh_platform.scaffold import columns as cols
from mesh_platform.scaffold import names, registry
from mesh_platform.scaffold.domain import plan_new_domain
from mesh_platform.scaffold.members import register_team_members
from mesh_platform.scaffold.plan import Plan, ScaffoldError
from mesh_platform.scaffold.product import plan_new_product
from mesh_platform.scaffold.sources import OperationalSource

from ..conftest import REPO

CONFIG = load_governance(REPO / "governance")


@pytest.fixture
def copy(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    for part in ("domains", "governance"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        REPO / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("logs")
    )
    shutil.copy2(REPO / "workspace.yaml", root / "workspace.yaml")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")  # the mesh's settings
    monkeypatch.setenv("MESH_REPO_ROOT", str(root))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("bad", ["Merch", "2shop", "a-b", "shop__x", "shop_", "staging", ""])
def test_invalid_names_are_refused(bad):
    with pytest.raises(ScaffoldError, match="invalid domain name"):
        names.check_name("domain", bad)


def test_contact_must_be_a_company_address():
    assert names.check_email("a@daff.example", ["daff.example"])
    with pytest.raises(ScaffoldError, match="invalid contact e-mail"):
        names.check_email("nope", ["daff.example"])
    with pytest.raises(ScaffoldError, match="not a company address"):
        names.check_email("a@gmail.com", ["daff.example"])


def test_new_domain_plan_lists_every_file_and_registration(copy):
    plan = plan_new_domain(get_environment(), "merch", "merch-team", "merch@daff.example")
    assert {plan.relative(c.path) for c in plan.changes} >= {
        "domains/merch/domain.yaml",
        "domains/merch/definitions.py",
        "dbt_project/merch/dbt_project.yml",
        "dbt_project/merch/packages.yml",
        "dbt_project/merch/macros/generate_schema_name.sql",
        "dbt_project/merch/models/_merch__groups.yml",
        "workspace.yaml",
        "governance/teams.yaml",
        "tests/domains/merch/test_definitions.py",
    }
    assert "+name: merch" in plan.diff()
    assert not (copy / "domains" / "merch").exists()  # planning writes nothing
    plan.apply()
    # the domain's own dbt project, depending on the platform's macros package
    project = yaml.safe_load((copy / "dbt_project" / "merch" / "dbt_project.yml").read_text())
    assert project["name"] == "merch" and project["profile"] == "mesh"
    assert project["models"]["merch"]["+group"] == "merch"
    packages = yaml.safe_load((copy / "dbt_project" / "merch" / "packages.yml").read_text())
    assert packages["packages"][0]["local"].startswith("{{ env_var('MESH_DBT_PACKAGE'")
    teams = yaml.safe_load((copy / "governance" / "teams.yaml").read_text())["teams"]
    assert teams["merch-team"] == {"contact": "merch@daff.example", "domain": "merch"}
    workspace = yaml.safe_load((copy / "workspace.yaml").read_text())["load_from"]
    assert [e["python_module"]["location_name"] for e in workspace][2] == "merch"


def test_a_new_domain_may_build_on_spark_and_a_typo_writes_nothing(copy):
    from mesh_platform.core.domain import load_domain

    env = get_environment()
    plan_new_domain(env, "merch", "merch-team", "merch@daff.example", engine="spark").apply()
    assert load_domain(copy / "domains" / "merch").spec.engine == "spark"
    before = snapshot(copy)
    with pytest.raises(ScaffoldError, match="--engine: unknown engine 'sparkk'"):
        plan_new_domain(env, "shop", "shop-team", "shop@daff.example", engine="sparkk").apply()
    assert snapshot(copy) == before
    # the default writes no engine line: DuckDB needs no mention
    plan_new_domain(env, "shop", "shop-team", "shop@daff.example").apply()
    assert "engine" not in (copy / "domains" / "shop" / "domain.yaml").read_text()


def test_new_domain_keeps_the_generated_helm_values_in_step(copy):
    from mesh_platform.production import helm
    from mesh_platform.production.generated import generated_files

    shutil.copytree(REPO / "infra", copy / "infra")
    plan_new_domain(get_environment(), "merch", "merch-team", "merch@daff.example").apply()
    values = yaml.safe_load((copy / helm.VALUES_FILE).read_text())
    deployments = values["dagster-user-deployments"]["deployments"]
    merch = next(d for d in deployments if d["name"] == "merch")
    assert merch["codeServerArgs"] == ["-m", "domains.merch.definitions"]
    assert merch["labels"]["mesh.daff.example/team"] == "merch-team"
    # what `mesh infra helm-values --check` compares: the files are the generated ones,
    # the new domain's volume included
    files = generated_files(get_environment())
    assert {p: (copy / p).read_text() for p in files} == files
    assert "name: mesh-merch-data" in (copy / "infra/k8s/volumes.yaml").read_text()


def test_helm_values_with_a_custom_image_get_a_note_not_a_rewrite(copy):
    from mesh_platform.production import helm
    from mesh_platform.production.generated import generated_files

    shutil.copytree(REPO / "infra", copy / "infra")
    custom = generated_files(get_environment(), image="registry.example/mesh", tag="9")
    (copy / helm.VALUES_FILE).write_text(custom[helm.VALUES_FILE])
    plan = plan_new_domain(get_environment(), "merch", "merch-team", "merch@daff.example")
    assert str(helm.VALUES_FILE) not in {plan.relative(c.path) for c in plan.changes}
    assert any("mesh infra helm-values --image" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("podcasts", "x-team", "x@daff.example"), "domain 'podcasts' already exists"),
        (("Shop", "x-team", "x@daff.example"), "invalid domain name"),
        (("shop", "Shop Team", "x@daff.example"), "invalid owner team"),
        (("shop", "shop-team", "shop@elsewhere.com"), "not a company address"),
        (("shop", "podcasts-team", "x@daff.example"), "registered for domain podcasts"),
    ],
)
def test_bad_domain_arguments_write_nothing(copy, args, message):
    before = snapshot(copy)
    with pytest.raises(ScaffoldError, match=message):
        plan_new_domain(get_environment(), *args).apply()
    assert snapshot(copy) == before


BAD_PRODUCT = [
    ("nowhere", "x", {"from_port": "podcasts.podcast_shows"}, "unknown domain 'nowhere'"),
    ("artists", "X", {"from_port": "podcasts.podcast_shows"}, "invalid product name"),
    ("artists", "x", {}, "give at least one input"),
    ("artists", "x", {"from_port": "podcasts.nope"}, "unknown upstream port 'podcasts.nope'"),
    ("artists", "x", {"from_port": "nowhere.port"}, "domain nowhere does not exist"),
    ("artists", "x", {"from_port": "bad address"}, "invalid port address"),
    ("artists", "x", {"from_port": "artists.track_catalog"}, "domain artists itself"),
    ("artists", "track_catalog", {"from_port": "podcasts.podcast_shows"}, "already exists"),
    (
        "artists",
        "int_streams_joined_to_artists",
        {"from_port": "podcasts.podcast_shows"},
        "already has a dbt model named",
    ),
    (
        "artists",
        "x",
        {"source": OperationalSource("file_drop", "artists_drop", "t", "none/*.csv")},
        "no file matches",
    ),
    (
        "artists",
        "x",
        {"source": OperationalSource("database", "crm", "t", connection="crm_db")},
        "unknown database connection 'crm_db'",
    ),
]


@pytest.mark.parametrize(("domain", "name", "kwargs", "message"), BAD_PRODUCT)
def test_bad_product_arguments_write_nothing(copy, domain, name, kwargs, message):
    before = snapshot(copy)
    with pytest.raises(ScaffoldError, match=message):
        plan_new_product(get_environment(), domain, name, **kwargs).apply()
    assert snapshot(copy) == before


def test_plan_applies_all_files_or_none(tmp_path):
    plan = Plan(tmp_path)
    plan.write("a/one.txt", "1\n")
    plan.write("b/two.txt", "2\n")
    assert plan.summary() == ["+ create a/one.txt", "+ create b/two.txt"]
    assert "+++ b/a/one.txt" in plan.diff()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").mkdir()  # a directory where a file must go: the move fails
    with pytest.raises(OSError):
        plan.apply()
    assert not (tmp_path / "a" / "one.txt").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "two.txt"]


def test_workspace_and_teams_edits():
    text = (REPO / "workspace.yaml").read_text()
    added = registry.workspace_with(text, add="merch")
    assert "location_name: merch" in added and added.startswith("# One code location")
    assert registry.workspace_with(added, drop="merch") == text
    teams = (REPO / "governance" / "teams.yaml").read_text()
    assert (
        registry.teams_remove(registry.teams_add(teams, "m-team", "m@daff.example", "m"), "m-team")
        == teams
    )


def test_sources_edit_adds_a_table_to_an_existing_source_and_removes_it():
    text = (
        REPO / "dbt_project/recommendations/models/staging/_recommendations__sources.yml"
    ).read_text()
    block = "      - name: listening_sessions\n        config:\n          meta:\n            mesh_port: playback.listening_sessions"
    added = registry.sources_add(
        text, "recommendations_playback_ports", "", "listening_sessions", block
    )
    parsed = yaml.safe_load(added)["sources"][0]
    assert [t["name"] for t in parsed["tables"]][0] == "listening_sessions"
    assert (
        registry.sources_remove(added, "recommendations_playback_ports", "listening_sessions")
        == text
    )


def test_staging_columns_follow_the_conventions():
    staged = cols.staging_columns(
        [
            ("Country Code", "VARCHAR"),
            ("createdTime", "TIMESTAMP"),
            ("listener_id", "VARCHAR"),
            ("tags", "VARCHAR[]"),
        ],
        CONFIG,
    )
    assert [(c.name, c.data_type) for c in staged] == [
        ("country_code", "varchar"),
        ("created_at", "timestamp"),
        ("listener_id", "bigint"),  # the shared key's glossary type
        ("tags", "varchar"),  # nested values kept as JSON text
    ]
    assert staged[3].expression == 'to_json("tags")'


def test_personal_data_is_hashed_by_default():
    (email,) = cols.classify([cols.Column("email", "varchar", "E-mail.", "email")], CONFIG)
    assert email.pii == {"category": "email", "treatment": "hashed"}
    assert email.expression == "{{ mesh.hash('email') }}"


def test_port_sql_round_trips_to_model_yaml_and_contract():
    columns = [
        cols.Column("order_id", "varchar", "Identifier of the order.", "order_id"),
        cols.Column("amount_eur", "decimal(12,2)", "Amount in euros.", "amount"),
        cols.Column("placed_at", "timestamp", "When it was placed (UTC).", "placed_at"),
    ]
    sql = (
        "with final as (\n    select\n"
        + cols.render_select(columns)
        + "\n    from {{ ref('stg') }}\n)\n\nselect * from final\n"
    )
    assert cols.parse_port_sql(sql, "orders") == [
        ("order_id", "varchar", "Identifier of the order."),
        ("amount_eur", "decimal(12,2)", "Amount in euros."),
        ("placed_at", "timestamp", "When it was placed (UTC)."),
    ]
    old_contract = cols.soda_contract(
        "m/marts/orders",
        "m.orders",
        1,
        [
            cols.Column(
                "order_id", "varchar", "", "", checks=[{"missing": None}, {"duplicate": None}]
            )
        ],
    )
    text, dataset, derived = cols.derive_port_files(
        sql, "orders", "Orders placed.", None, old_contract, CONFIG
    )
    assert dataset == "m/marts/orders"
    model = yaml.safe_load(text)["models"][0]
    assert model["config"] == {"contract": {"enforced": True}}
    # text is spelled `string` in the model YAML: DuckDB and Spark both accept it
    assert [c["data_type"] for c in model["columns"]] == ["string", "decimal(12,2)", "timestamp"]
    assert derived[0].checks == [{"missing": None}, {"duplicate": None}]  # kept
    contract = yaml.safe_load(cols.soda_contract("m/marts/orders", "m.orders", 1, derived))
    assert [c["name"] for c in contract["columns"]] == ["order_id", "amount_eur", "placed_at"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("amount as amount_eur,  -- Amount.", "no declared type"),
        ("cast(amount as double) as amount_eur,", "no description"),
    ],
)
def test_port_sql_without_type_or_description_is_refused(line, message):
    sql = f"with final as (\n    select\n        cast(id as varchar) as order_id,  -- Id.\n        {line.rstrip(',')}\n    from x\n)\nselect * from final"
    with pytest.raises(ScaffoldError, match=message):
        cols.parse_port_sql(sql, "orders")


def test_new_domain_members_read_and_decide_as_the_owner_team(copy, tmp_path, monkeypatch):
    """Issue 22: `--member` makes users members of the new team (an unknown user is added)."""
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MESH_ACCESS_DIR", raising=False)
    new = ["new", "domain", "merch", "--owner", "merch-team", "--contact", "merch@daff.example"]
    result = CliRunner().invoke(app, [*new, "--member", "alice", "--member", "nora"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["new", "product", "merch", "show_picks", "--from-port", "podcasts.podcast_shows"]
    )
    assert result.exit_code == 0, result.output

    users = yaml.safe_load((copy / "governance" / "access" / "users.yaml").read_text())["users"]
    assert users["alice"]["team"] == "analytics"  # keeps her own team
    assert users["nora"] == {
        "name": "Nora",
        "email": "nora@daff.example",
        "team": "merch-team",
        "roles": ["engineer"],
    }
    service = AccessService(get_environment())
    port = service.catalog.port("merch.show_picks")
    for member in ("alice", "nora"):
        decision = service.policy.read(service.user(member), port)
        assert decision.allowed and decision.personal_data, member
    assert not service.policy.read(service.user("bruno"), port).allowed
    request = service.request("bruno", "merch.show_picks", "Merch picks for the newsletter")
    assert service.decide(request.id, "nora", approve=True).status == "approved"
    assert service.policy.read(service.user("bruno"), port).allowed


def test_register_team_members_edits_users_yaml_keeping_comments(copy):
    env = get_environment()
    plan = Plan(env.repo_root)
    created = register_team_members(plan, env, "merch-team", ["carla", "max_mustermann", "carla"])
    assert created == ["max_mustermann"]
    text = plan.current("governance/access/users.yaml")
    assert text.startswith("# Who may use the consumer plane")
    users = yaml.safe_load(text)["users"]
    assert (users["carla"]["team"], users["carla"]["teams"]) == ("artists-team", ["merch-team"])
    assert users["max_mustermann"]["name"] == "Max Mustermann"
    with pytest.raises(ScaffoldError, match="invalid user id"):
        register_team_members(plan, env, "merch-team", ["Bad User"])


def test_new_product_classifies_by_type_and_sampled_values(copy, tmp_path, monkeypatch):
    """Issue 22: a numeric `credit_card_amount` is money, not a card; card numbers and e-mails
    under innocuous names are found by their values and hashed."""
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    drop = tmp_path / "data" / "operational" / "merch" / "payments.csv"
    drop.parent.mkdir(parents=True)
    drop.write_text(
        "payment_id,credit_card_amount,payer_ref,contact\n"
        "1,12.50,4111111111111111,ann@shop.example\n"
        "2,1999.99,5500000000000004,bob@shop.example\n"
    )
    new = ["new", "domain", "merch", "--owner", "merch-team", "--contact", "merch@daff.example"]
    assert CliRunner().invoke(app, new).exit_code == 0
    result = CliRunner().invoke(
        app,
        ["new", "product", "merch", "payments", "--source-kind", "file_drop"]
        + ["--path", "merch/payments.csv", "--system", "merch_shop", "--table", "payments"],
    )
    assert result.exit_code == 0, result.output

    model = yaml.safe_load((copy / "dbt_project/merch/models/marts/payments.yml").read_text())
    columns = {c["name"]: c for c in model["models"][0]["columns"]}
    pii = {name: (c.get("config") or {}).get("meta", {}).get("pii") for name, c in columns.items()}
    assert pii["credit_card_amount"] is None
    assert columns["credit_card_amount"]["data_type"].startswith(("decimal", "double"))
    assert pii["payer_ref"] == {"category": "payment_card", "treatment": "hashed"}
    assert pii["contact"] == {"category": "email", "treatment": "hashed"}
    # the new source declares the columns it has today, for its schema-drift check
    sources = yaml.safe_load(
        (copy / "dbt_project/merch/models/staging/_merch__sources.yml").read_text()
    )
    (table,) = [t for s in sources["sources"] for t in s["tables"] if t["name"] == "payments"]
    declared = {c["name"]: c["data_type"] for c in table["columns"]}
    assert list(declared) == ["payment_id", "credit_card_amount", "payer_ref", "contact"]
    assert declared["contact"] == "varchar"


def test_a_new_product_is_a_draft_and_the_catalog_says_so(copy, tmp_path, monkeypatch):
    """Issue 22: `mesh new product` writes `status: draft`; `mesh catalog show` shows it."""
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    new = ["new", "domain", "merch", "--owner", "merch-team", "--contact", "merch@daff.example"]
    assert CliRunner().invoke(app, new).exit_code == 0
    result = CliRunner().invoke(
        app, ["new", "product", "merch", "show_picks", "--from-port", "podcasts.podcast_shows"]
    )
    assert result.exit_code == 0, result.output
    descriptor = yaml.safe_load((copy / "domains/merch/products/show_picks.yaml").read_text())
    assert descriptor["status"] == "draft"

    shown = CliRunner().invoke(app, ["catalog", "show", "merch.show_picks"])
    assert shown.exit_code == 0, shown.output
    assert "draft" in shown.output and "mesh release merch.show_picks" in shown.output
    as_json = CliRunner().invoke(app, ["catalog", "show", "merch.show_picks", "--json"])
    assert '"status": "draft"' in as_json.output
    released = CliRunner().invoke(app, ["catalog", "show", "podcasts.podcast_shows", "--json"])
    assert '"status": "released"' in released.output  # no status in its descriptor

"""Source schema drift: declared columns against the columns a source has today."""

from __future__ import annotations

import sqlite3

import pytest

from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.source_schema import (
    ColumnChange,
    check_source,
    compare,
    drift_policy,
    resolve_env_vars,
)

DECLARED = {"payment_id": "varchar", "amount_eur": "varchar"}


def test_an_unchanged_source_has_no_drift():
    assert compare(DECLARED, [("payment_id", "VARCHAR"), ("amount_eur", "VARCHAR")]) == []


def test_new_missing_and_retyped_columns_are_named():
    changes = compare(DECLARED, [("payment_id", "BIGINT"), ("currency", "VARCHAR")])
    assert ColumnChange("amount_eur", "missing", declared="varchar") in changes
    assert ColumnChange("currency", "new", actual="VARCHAR") in changes
    assert ColumnChange("payment_id", "retyped", declared="varchar", actual="BIGINT") in changes
    assert "column `currency` (VARCHAR) is new" in changes[1].describe()


def test_allow_new_columns_accepts_only_new_columns():
    actual = [("payment_id", "VARCHAR"), ("currency", "VARCHAR")]
    changes = compare(DECLARED, actual, "allow_new_columns")
    assert changes == [ColumnChange("amount_eur", "missing", declared="varchar")]


def test_type_spellings_and_name_only_declarations():
    assert compare({"id": "integer", "name": "text"}, [("id", "INTEGER"), ("name", "TEXT")]) == []
    assert compare({"id": "int"}, [("id", "BIGINT")]) == []
    assert compare({"shows": None}, [("shows", "STRUCT(a VARCHAR)[]")]) == []


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="mesh_schema_drift"):
        drift_policy({"source_name": "s", "name": "t", "meta": {"mesh_schema_drift": "yes"}})


def test_env_vars_render_like_dbt():
    text = "read_csv('{{ env_var('MESH_OPERATIONAL_DIR', '../x') }}/a.csv')"
    assert resolve_env_vars(text, {"MESH_OPERATIONAL_DIR": "/d"}) == "read_csv('/d/a.csv')"
    assert resolve_env_vars(text, {}) == "read_csv('../x/a.csv')"


def _source(tmp_path, location=None, **meta):
    yml = tmp_path / "models" / "_s.yml"
    yml.parent.mkdir(parents=True, exist_ok=True)
    yml.write_text("sources: []\n")
    return {
        "source_name": "sys",
        "name": "payments",
        "original_file_path": "models/_s.yml",
        "meta": {**({"external_location": location} if location else {}), **meta},
        "columns": {c: {"data_type": t} for c, t in DECLARED.items()},
    }


def test_check_source_reads_a_csv_with_duckdb(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = apply_tool_env()
    csv = tmp_path / "p.csv"
    csv.write_text("payment_id,amount_eur,currency\np1,1.00,EUR\n")
    location = f"read_csv('{csv}', header = true, all_varchar = true)"
    drift = check_source(env, tmp_path, "source.x.sys.payments", _source(tmp_path, location))
    assert drift.changes == [ColumnChange("currency", "new", actual="VARCHAR")]
    allowed = _source(tmp_path, location, mesh_schema_drift="allow_new_columns")
    assert not check_source(env, tmp_path, "source.x.sys.payments", allowed).drifted
    csv.write_text("payment_id,amount_eur\np1,1.00\n")
    assert not check_source(
        env, tmp_path, "source.x.sys.payments", _source(tmp_path, location)
    ).drifted


def test_check_source_reads_a_sqlite_table(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = apply_tool_env()
    db = tmp_path / "reg.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("create table subscriptions (id integer, plan_code text)")
    (tmp_path / "profiles.yml").write_text(
        "mesh:\n  outputs:\n    local:\n      plugins:\n        - alias: reg\n"
        f"          config: {{connection_url: 'sqlite:///{db}'}}\n"
    )
    project = tmp_path / "proj"
    project.mkdir()
    source = {
        "source_name": "reg",
        "name": "subscriptions",
        "original_file_path": "models/_s.yml",
        "meta": {"plugin": "reg", "table": "subscriptions"},
        "columns": {"id": {"data_type": "integer"}, "plan_id": {"data_type": "text"}},
    }
    drift = check_source(env, project, "source.x.reg.subscriptions", source)
    assert {(c.column, c.change) for c in drift.changes} == {
        ("plan_id", "missing"),
        ("plan_code", "new"),
    }
    source["meta"]["table"] = "gone"
    assert "does not exist" in check_source(env, project, "u", source).unreadable

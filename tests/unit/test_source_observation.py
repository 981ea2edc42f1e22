"""Observing operational sources: what is there now (files, bytes, last modified, rows), with
a data version that changes when the source does, and a clear word when it is missing."""

from __future__ import annotations

import os
import sqlite3

import pytest

from mesh_platform.build.source_observation import observe_source
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import load_manifest


@pytest.fixture
def listeners(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    env = apply_tool_env()
    project = env.domain_dbt_dir("listeners")
    sources = load_manifest(project)["sources"]
    return env, project, sources


def test_a_file_source_is_observed_with_rows_and_a_version(listeners):
    env, project, sources = listeners
    plans = env.operational_dir / "reference" / "plans.csv"
    plans.parent.mkdir(parents=True)
    plans.write_text("plan_id,plan_name,monthly_price_eur,max_members\nfree,Free,0,1\n")
    first = observe_source(env, project, sources["source.listeners.reference.plans"])
    assert (first.rows, first.files, first.problem) == (1, 1, None)
    assert first.last_modified == pytest.approx(plans.stat().st_mtime)
    assert first.metadata()["dagster/row_count"] == 1
    plans.write_text(plans.read_text() + "duo,Duo,15,2\n")
    os.utime(plans, (first.last_modified + 60, first.last_modified + 60))
    second = observe_source(env, project, sources["source.listeners.reference.plans"])
    assert second.rows == 2
    assert second.data_version != first.data_version


def test_a_sqlite_table_is_observed(listeners):
    env, project, sources = listeners
    env.operational_dir.mkdir(parents=True)
    con = sqlite3.connect(env.operational_dir / "registration.sqlite")
    con.execute("create table listeners (listener_id integer)")
    con.executemany("insert into listeners values (?)", [(1,), (2,), (3,)])
    con.commit()
    con.close()
    seen = observe_source(env, project, sources["source.listeners.registration.listeners"])
    assert seen.rows == 3 and seen.problem is None
    assert "registration.sqlite (table listeners)" in seen.where


def test_a_missing_source_says_so(listeners):
    env, project, sources = listeners
    plans = observe_source(env, project, sources["source.listeners.reference.plans"])
    assert plans.files == 0 and "no file matches" in plans.problem
    db = observe_source(env, project, sources["source.listeners.registration.listeners"])
    assert "registration.sqlite does not exist" in db.problem

"""`mesh demo` on a data dir built from other sources (a live window ends yesterday, so a demo
run on a later day shifts it): what was built from the old sources is removed before the build
— its keys would collide with the new days' — and what people did (grants, requests, tokens,
audit) is kept."""

import json
from types import SimpleNamespace

import pytest
import typer

from mesh_platform.cli.demo import generated_identity, reset_derived_state


def _data_dir(tmp_path, start: str):
    data = tmp_path / "data"
    (data / "operational").mkdir(parents=True)
    (data / "operational" / "manifest.json").write_text(
        json.dumps({"scale": 0.05, "seed": 42, "start": start, "days": 90})
    )
    for kept in ("grants.yaml", "audit.jsonl", "tokens.json"):
        (data / kept).write_text("x")
    for built in ("warehouse", "ports/playback/play_events_v1", "inputs/step"):
        (data / built).mkdir(parents=True)
        (data / built / "f").write_text("x")
    return SimpleNamespace(
        data_dir=data, operational_dir=data / "operational",
        warehouse_dir=data / "warehouse", ports_dir=data / "ports",
    )  # fmt: skip


def test_a_shifted_window_removes_what_was_built_and_keeps_what_people_did(tmp_path, monkeypatch):
    monkeypatch.delenv("MESH_PORTS_URI", raising=False)
    env = _data_dir(tmp_path, "2026-01-01")
    before = generated_identity(env.operational_dir)
    assert before == (0.05, 42, "2026-01-01", 90)
    after = (0.05, 42, "2026-09-07", 90)
    (message,) = reset_derived_state(env, before, after)
    assert "90 days from 2026-01-01 -> scale 0.05, seed 42, 90 days from 2026-09-07" in message
    assert "warehouse, ports, inputs" in message
    assert not any((env.data_dir / p).exists() for p in ("warehouse", "ports", "inputs"))
    assert all((env.data_dir / p).exists() for p in ("grants.yaml", "audit.jsonl", "tokens.json"))


def test_ports_on_object_storage_are_not_deleted_by_a_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PORTS_URI", "s3://bucket/mesh")
    env = _data_dir(tmp_path, "2026-01-01")
    with pytest.raises(typer.BadParameter, match="clear that prefix"):
        reset_derived_state(env, generated_identity(env.operational_dir), (0.05, 42, "x", 90))
    assert (env.data_dir / "warehouse").exists()


def test_no_manifest_means_nothing_to_compare(tmp_path):
    assert generated_identity(tmp_path) is None

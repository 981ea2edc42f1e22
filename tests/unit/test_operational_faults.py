"""Fault injection: named, deterministic corruptions that report what they did."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import pytest

from operational import generate
from operational.__main__ import main as generator_main
from operational.faults import FAULTS, count_play_lines, inject
from operational.faults import main as faults_main


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "operational"
    generate(out, scale=0.005)
    return out


@pytest.fixture
def copy(generated, tmp_path):
    target = tmp_path / "operational"
    shutil.copytree(generated, target)
    return target


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_at_least_25_kinds_each_described_with_an_outcome():
    assert len(FAULTS) >= 25
    for fault in FAULTS.values():
        assert fault.description and fault.outcome in {"reject", "block", "accept"}
    assert sum(f.outcome != "accept" for f in FAULTS.values()) >= 25


def test_all_kinds_together_are_deterministic(generated, tmp_path):
    digests, reports = [], []
    for attempt in (1, 2):
        target = tmp_path / f"all-{attempt}"
        shutil.copytree(generated, target)
        reports.append(inject(target, list(FAULTS)))
        digests.append(_digest(target))
    assert digests[0] == digests[1]
    assert reports[0] == reports[1]


def test_every_kind_changes_the_data_and_reports_what_it_touched(generated, tmp_path):
    clean = _digest(generated)
    for kind in FAULTS:
        target = tmp_path / kind
        shutil.copytree(generated, target)
        (report,) = inject(target, [kind])
        assert _digest(target) != clean, f"{kind} changed nothing"
        assert report.kind == kind and report.domain and report.product
        assert (report.check is None) == (report.outcome == "accept"), kind
        if report.outcome == "reject":
            assert report.rows_bad >= 1 and report.column
        shutil.rmtree(target)


def test_play_event_kinds_touch_distinct_days_and_reconcile_line_counts(copy):
    kinds = [k for k, f in FAULTS.items() if f.domain == "playback" and f.outcome != "block"]
    before = count_play_lines(copy)
    reports = inject(copy, kinds)
    days = [r.source.split("/")[2] for r in reports]
    assert len(set(days)) == len(days)
    assert count_play_lines(copy) == before + sum(r.rows_delta for r in reports)


def test_source_table_disappears_and_column_is_renamed(copy):
    inject(copy, ["table_disappears", "renamed_column"])
    with sqlite3.connect(copy / "registration.sqlite") as con:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        columns = {r[1] for r in con.execute("pragma table_info(subscriptions)")}
    con.close()
    assert "profile_changes" not in tables
    assert "plan_code" in columns and "plan_id" not in columns


def test_unknown_kind_is_refused(copy):
    with pytest.raises(ValueError, match="unknown fault kind"):
        inject(copy, ["no_such_fault"])


def test_generator_cli_injects_faults(tmp_path, capsys):
    out = tmp_path / "operational"
    generator_main(["--scale", "0.005", "--out", str(out), "--fault", "unknown_enum"])
    assert "injected unknown_enum" in capsys.readouterr().out
    assert b'"device":"hologram"' in b"".join(
        p.read_bytes() for p in (out / "events" / "plays").rglob("*.jsonl")
    )
    faults_main(["--list"])
    assert "redelivered_file" in capsys.readouterr().out


def test_mesh_generate_injects_faults_and_refuses_unknown_kinds_before_writing(
    tmp_path, monkeypatch
):
    import subprocess
    import sys

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    mesh = [sys.executable, "-m", "mesh_platform.cli", "generate", "--scale", "0.005"]
    bad = subprocess.run([*mesh, "--fault", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unknown fault kind(s) ['nope']" in bad.stdout + bad.stderr
    assert not (tmp_path / "data" / "operational").exists()  # nothing generated
    good = subprocess.run([*mesh, "--fault", "null_key"], capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "injected fault null_key" in good.stdout

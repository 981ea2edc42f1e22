"""The benchmark harness runs end to end at a tiny scale (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.measure import run_measured, sessions_cpu_seconds
from bench.report import VARIANTS

REPO = Path(__file__).resolve().parent.parent.parent
DOMAINS = ("playback", "podcasts", "artists", "listeners", "recommendations")


def test_the_process_tree_is_measured_with_its_descendants(tmp_path: Path):
    # the child holds ~40 MiB, its own child ~80 MiB more: the peak must see both at once
    child = "import subprocess, sys, time; b = bytearray(40 << 20); " + (
        "subprocess.run([sys.executable, '-c', 'import time; b = bytearray(80 << 20); "
        "time.sleep(0.6)'])"
    )
    sample = run_measured(
        "tree", 1, [sys.executable, "-c", child], env={}, cwd=tmp_path, log=tmp_path / "log"
    )
    assert sample.ok
    assert sample.peak_rss_mib > 120
    assert sample.wall_s >= 0.6
    assert sample.cpu_s > 0


def test_processes_outside_the_tree_are_sampled_beside_it_by_session(tmp_path: Path):
    # a service the bench started (a Spark cluster's JVM): its own session, not the tree's
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; b = bytearray(60 << 20); time.sleep(30)"],
        start_new_session=True,
    )
    try:
        time.sleep(0.5)
        before = sessions_cpu_seconds({holder.pid})
        sample = run_measured(
            "beside", 1, [sys.executable, "-c", "import time; b = bytearray(20 << 20); "
                          "time.sleep(0.5)"],
            env={}, cwd=tmp_path, log=tmp_path / "log", also_sessions={holder.pid},
        )  # fmt: skip
        assert sample.ok
        assert 20 < sample.peak_rss_mib < 60  # the tree alone
        assert sample.also_peak_rss_mib > 60
        assert sample.combined_peak_rss_mib > sample.also_peak_rss_mib
        assert sessions_cpu_seconds({holder.pid}) >= before > 0
    finally:
        holder.kill()
        holder.wait()
    assert (
        "also_peak_rss_mib"
        not in run_measured(
            "alone", 1, [sys.executable, "-c", "pass"], env={}, cwd=tmp_path, log=tmp_path / "log2"
        ).to_json()
    )


@pytest.mark.slow
@pytest.mark.bench
def test_bench_at_a_tiny_scale_writes_every_figure(tmp_path: Path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "0.01", "--repeat", "1",
         "--synthetic", "3", "--work", str(tmp_path / "work"), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "latest.json").read_text())
    markdown = (out / "latest.md").read_text()

    for variant in VARIANTS:
        stats = result["summary"][variant]
        assert stats["failed"] == 0
        assert stats["wall_s"]["median"] > 0
        assert stats["peak_rss_mib"]["median"] > 0
        assert variant in {s["variant"] for s in result["samples"]}
    assert all(value and value > 0 for value in result["ratios"].values()), result["ratios"]
    for name in ("mesh/raw", "mesh/dbt", "mesh/monolith", "increment/full"):
        assert name in markdown

    defs = result["defs_load"]
    assert {*DOMAINS, "synthetic: 3 products"} <= set(defs)
    assert all(
        row["wall_s"]["median"] > 0 and not row["manifest_reparsed"] for row in defs.values()
    )
    assert result["soda"]["checks"] > 0 and result["soda"]["share_of_full_wall"] > 0
    assert result["breakdown_summary"]["mesh_full"]["dbt_exec_s"] > 0
    for address, rows in result["consistency"].items():
        assert len(set(rows.values())) == 1, (address, rows)  # raw, dbt, monolith, mesh agree
    assert result["machine"]["cpus"] >= 1
    # each variant's data dir is removed once measured and counted (scale 100 is ~20 GB each)
    assert not [p.name for p in (tmp_path / "work").glob("r1-*")]
    parse = result["dbt_parse"]  # one project per domain: an edit re-parses only its domain
    assert parse["reparsed_after_edit"] == [parse["edited_domain"]]
    assert set(parse["domains"]) == set(DOMAINS)
    assert "## dbt parse (one project per domain)" in markdown


def test_the_peers_to_measure_are_named_and_an_unknown_one_fails_before_anything_runs():
    from bench.__main__ import _peers

    assert _peers("monolith") == ("monolith",)
    assert _peers(" dbt, monolith ,") == ("dbt", "monolith")
    assert _peers("") == ()
    with pytest.raises(SystemExit, match="unknown monolit; choose among dbt, raw, monolith"):
        _peers("monolit")

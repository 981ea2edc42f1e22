"""bench.engines runs end to end at a tiny scale: one domain on DuckDB and on Spark, each
measured, Spark's time split into its phases, and no Spark process left behind (a smoke test:
no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent


def _spark_daemons_under(path: Path) -> list[int]:
    """Spark JVMs whose command line or environment names ``path`` (this test's, not another
    Spark on the machine)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"org.apache.spark" in cmdline and str(path).encode() in cmdline + environ:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.bench
def test_engines_bench_at_a_tiny_scale_measures_both_engines(tmp_path: Path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 usable cores (--cores 2)")
    out, work = tmp_path / "results", tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.engines", "--scales", "0.01", "--domains", "artists",
         "--repeat", "1", "--cores", "2", "--work", str(work), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _spark_daemons_under(work) == [], "a Spark JVM of the bench's cluster outlived it"
    result = json.loads((out / "engines.json").read_text())
    markdown = (out / "engines.md").read_text()

    assert result["config"]["domains"] == ["artists"]
    assert result["config"]["upstream_built_on_duckdb"] == ["playback"]  # artists reads its port
    assert result["leftover_spark_pids"] == []
    rows = result["summary"]["0.01"]
    assert set(rows) == {"duckdb:2", "spark:2"}
    for row in rows.values():
        assert row["failed"] == 0 and row["runs"] == 1
        assert row["wall_s"]["median"] > 0 and row["cpu_s"]["median"] > 0
        assert row["peak_rss_mib"]["median"] > 0
        assert row["phases"]["artists"]["dbt_exec_s"] > 0
        assert row["phases"]["artists"]["post_dbt_s"] > 0
    spark = rows["spark:2"]
    assert spark["cluster_start_s"]["median"] > 0
    assert spark["cluster_cpu_s"]["median"] > 0  # the executors did work
    assert spark["also_peak_rss_mib"]["median"] > 0
    assert spark["combined_peak_rss_mib"]["median"] >= spark["peak_rss_mib"]["median"]
    phases = spark["phases"]["artists"]
    for phase in ("spark_session_s", "spark_register_s", "dbt_exec_s", "post_dbt_s"):
        assert phases[phase] > 0, (phase, phases)
    assert "spark_session_s" not in rows["duckdb:2"]["phases"]["artists"]
    assert spark["spark"]["tasks"] > 0  # from Spark's event log

    assert result["model"]["status"] == "insufficient"  # one scale, one core count: no fit
    assert result["machine"]["git"]["commit"]
    for text in ("DuckDB, 2 core(s)", "Spark, 2 core(s)", "Spark session", "source registration",
                 "no crossover within the measured model"):  # fmt: skip
        assert text in markdown

"""The scaling model of bench.engines: fits what it was given, extrapolates no further than its
lines, and says "no crossover" when the numbers do not show one."""

from __future__ import annotations

import pytest

from bench.engine_model import (
    NO_CROSSOVER,
    Params,
    amdahl,
    crossover,
    fit_line,
    model,
    serial_fraction,
)

ROWS_PER_SCALE = 1_250_000


def test_a_line_through_two_scales_splits_fixed_from_per_row():
    line = fit_line([(1_000_000, 30.0), (10_000_000, 120.0)])
    assert line.fixed_s == pytest.approx(20.0)
    assert line.per_row_s == pytest.approx(1e-5)
    assert fit_line([(1_000_000, 30.0)]) is None  # one scale: no line


@pytest.mark.parametrize(
    ("speedup", "serial", "clamped"),
    [(2.0, 0.0, False), (1.0, 1.0, False), (1.5, 1 / 3, False), (2.5, 0.0, True), (0.8, 1.0, True)],
)
def test_amdahl_serial_fraction_from_one_to_two_cores(speedup, serial, clamped):
    fit = serial_fraction(speedup, 1.0, 1, 2)
    assert fit.serial == pytest.approx(serial)
    assert bool(fit.clamped) == clamped
    if not clamped:
        assert amdahl(fit.serial, 2) == pytest.approx(1 / speedup)


def test_serial_fraction_between_other_core_counts_inverts_amdahl():
    s = 0.2
    fit = serial_fraction(amdahl(s, 2), amdahl(s, 8), 2, 8)
    assert fit.serial == pytest.approx(s)


def test_crossover_kinds():
    assert crossover((10, 2.0), (40, 1.0)) == ("from", 30.0)
    assert crossover((10, 1.0), (40, 2.0)) == ("never", 0.0)
    assert crossover((10, 2.0), (5, 1.0)) == ("always", 0.0)
    assert crossover((10, 1.0), (5, 2.0)) == ("below", 5.0)


def _measured(duck, spark):
    """Walls at scales 1, 10 on 1, 2 cores from (fixed, its serial fraction, per-row, its serial
    fraction) per engine."""
    walls = {}
    for engine, (fixed, s_fixed, per_row, s_rows) in (("duckdb", duck), ("spark", spark)):
        for cores in (1, 2):
            walls.setdefault(engine, {})[cores] = {
                rows: fixed * amdahl(s_fixed, cores) + per_row * rows * amdahl(s_rows, cores)
                for rows in (ROWS_PER_SCALE, 10 * ROWS_PER_SCALE)
            }
    return {
        "walls": walls,
        "rows_per_scale": ROWS_PER_SCALE,
        "max_rows": 10 * ROWS_PER_SCALE,
        "spark_phases": {},
        "shuffle": [],
        "duckdb_rss": [],
    }


def test_the_model_recovers_known_engines_and_finds_their_crossover():
    # DuckDB: 10 s fixed, 20 s per scale unit, both half serial; Spark: 60 s fixed (serial),
    # 30 s per scale unit on one core but fully parallel: with enough cores its line drops below
    result = model(
        _measured((10.0, 0.5, 20 / ROWS_PER_SCALE, 0.5), (60.0, 1.0, 30 / ROWS_PER_SCALE, 0.0)),
        Params(cores=(8,), machines=(1, 4)),
    )
    assert result["status"] == "ok"
    assert result["duckdb"]["fixed_1core_s"] == pytest.approx(10.0)
    assert result["duckdb"]["rows_serial"]["serial"] == pytest.approx(0.5)
    assert result["spark"]["rows_serial"]["serial"] == pytest.approx(0.0, abs=1e-9)
    assert result["spark"]["fixed_serial"]["serial"] == pytest.approx(1.0)
    by_machines = {row["machines"]: row for row in result["extrapolation"]}
    # one machine of 8 cores: DuckDB 5.625 + 11.25/scale, Spark 60 + 3.75/scale (q = 1)
    assert by_machines[1]["crossover"] == "from"
    assert by_machines[1]["crossover_scale"] == pytest.approx((60 - 5.625) / (11.25 - 3.75), 0.01)
    assert by_machines[4]["crossover_scale"] < by_machines[1]["crossover_scale"]
    assert "beyond the largest measured scale" not in by_machines[1]["verdict"]


def test_no_crossover_is_said_when_spark_does_not_scale_better():
    # both engines equally parallel, Spark slower per row and with a bigger fixed part
    result = model(
        _measured((10.0, 0.1, 20 / ROWS_PER_SCALE, 0.1), (60.0, 1.0, 40 / ROWS_PER_SCALE, 0.1)),
        Params(cores=(8, 64), machines=(1,)),
    )
    assert {row["verdict"] for row in result["extrapolation"]} == {NO_CROSSOVER}
    assert all(row["crossover_scale"] is None for row in result["extrapolation"])


def test_shuffle_over_the_network_and_the_driver_share_slow_spark_down():
    measured = _measured(
        (10.0, 0.5, 20 / ROWS_PER_SCALE, 0.5), (60.0, 1.0, 30 / ROWS_PER_SCALE, 0.0)
    )
    base = model(measured, Params(cores=(8,), machines=(4,)))["extrapolation"][0]
    measured["shuffle"] = [(ROWS_PER_SCALE, 2e9), (10 * ROWS_PER_SCALE, 2e10)]  # 1.6 kB/row
    measured["spark_phases"] = {
        "dbt_exec_s": [(ROWS_PER_SCALE, 10.0), (10 * ROWS_PER_SCALE, 55.0)],
        "step_s": [(ROWS_PER_SCALE, 20.0), (10 * ROWS_PER_SCALE, 110.0)],
    }
    slower = model(measured, Params(cores=(8,), machines=(4,)))
    assert slower["spark_cluster_share"] == pytest.approx(0.5)
    row = slower["extrapolation"][0]
    assert row["spark_s_per_scale"] > base["spark_s_per_scale"]
    assert row["crossover_scale"] > base["crossover_scale"]


def test_one_scale_or_one_core_count_fits_nothing():
    measured = _measured((10.0, 0.5, 2e-5, 0.5), (60.0, 1.0, 3e-5, 0.0))
    for engine in measured["walls"].values():
        del engine[1]
    result = model(measured, Params())
    assert result["status"] == "insufficient"
    assert "--cores 1,2" in " ".join(result["missing"]["duckdb"])
    one_scale = {
        **measured,
        "walls": {e: {2: {ROWS_PER_SCALE: 30.0}} for e in ("duckdb", "spark")},
    }
    assert "--scales 1,10" in " ".join(model(one_scale, Params())["missing"]["spark"])

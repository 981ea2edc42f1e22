"""The scaling model of ``bench.engines``: measured mesh builds on DuckDB and on Spark, fitted
and extrapolated to bigger machines and clusters — as far as the measurements allow, no further.

Per engine, from the medians of the measured builds:

1. **Fixed and data-proportional parts** (``time = fixed + per_row × rows``): a least-squares
   line through the build's wall time at each measured scale, per core count. ``rows`` are the
   generated source rows of the scale. Needs two scales or more.
2. **Amdahl's law per part** from the speedup ``S`` between the smallest and largest measured
   core counts: ``T(n) = T(1) × (s + (1 − s)/n)``; from 1 to 2 cores ``s = 2/S − 1``. A speedup
   above linear or below 1 (noise) is clamped to ``s = 0`` or ``s = 1`` and said so.
3. **Extrapolation** to one machine of ``C`` cores (DuckDB, Spark) and to ``N`` such machines
   (Spark only): DuckDB's two parts scale with ``C``; Spark's fixed part (session, source
   registration, the driver's dbt parse, executor JVMs) scales with the driver machine's ``C``;
   of Spark's data-proportional part, the share ``q`` that runs on executors (the ``dbt``
   execution phase, from the phase breakdown) scales with ``N × C``, the rest (audit and
   publish on DuckDB in the driver, Dagster) with ``C``; the bytes Spark shuffled per row
   (its event log) cross the network between machines: ``B × (N − 1) / (N² × bandwidth)``.
4. **Crossover**: both engines' times are then lines in ``rows``; Spark is faster past
   ``rows* = (fixed_spark − fixed_duckdb) / (slope_duckdb − slope_spark)`` when its slope is the
   lower one, and never otherwise ("no crossover within the measured model").

DuckDB is bounded by one machine: past the rows where its peak memory, extrapolated along the
measured line, exceeds the machine's RAM, it spills to disk and the line underestimates it; a
crossover beyond that point is flagged, not hidden.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

NO_CROSSOVER = "no crossover within the measured model"


@dataclass(frozen=True)
class Line:
    """``seconds = fixed_s + per_row_s × rows`` through measured points."""

    fixed_s: float
    per_row_s: float
    points: tuple[tuple[float, float], ...]

    def at(self, rows: float) -> float:
        return self.fixed_s + self.per_row_s * rows


def fit_line(points: list[tuple[float, float]]) -> Line | None:
    """Least squares through ``(rows, seconds)``; None without two distinct row counts."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
    return Line(fixed_s=my - slope * mx, per_row_s=slope, points=tuple(points))


def amdahl(serial: float, cores: float) -> float:
    """The fraction of its one-core time a task with serial fraction ``serial`` takes on
    ``cores`` cores."""
    return serial + (1.0 - serial) / cores


@dataclass(frozen=True)
class Serial:
    """Amdahl's serial fraction from two core counts."""

    speedup: float
    serial: float
    clamped: str = ""  # why the measured speedup was outside Amdahl's range, if it was

    def one_core(self, seconds: float, cores: int) -> float:
        """The one-core time that takes ``seconds`` on ``cores`` cores."""
        return seconds / amdahl(self.serial, cores)


def serial_fraction(t_lo: float, t_hi: float, c_lo: int, c_hi: int) -> Serial | None:
    """``s`` such that ``T(c_lo)/T(c_hi)`` is Amdahl's speedup; from 1 to 2 cores ``2/S − 1``."""
    if t_lo <= 0 or t_hi <= 0 or c_hi <= c_lo:
        return None
    speedup = t_lo / t_hi
    a, b = 1.0 / c_lo, 1.0 / c_hi
    # speedup × (s + (1 − s) b) = s + (1 − s) a
    serial = (a - speedup * b) / (speedup - speedup * b - 1.0 + a)
    if serial < 0:
        return Serial(speedup, 0.0, f"speedup {speedup:.2f} is above linear: s clamped to 0")
    if serial > 1:
        return Serial(speedup, 1.0, f"speedup {speedup:.2f} is below 1: s clamped to 1")
    return Serial(speedup, serial)


@dataclass(frozen=True)
class Params:
    """What the extrapolation assumes about machines it did not run on."""

    cores: tuple[int, ...] = (8, 32, 64)  # per machine
    machines: tuple[int, ...] = (1, 4, 16)  # Spark cluster sizes
    network_gbps: float = 10.0  # per machine, full duplex
    ram_gib_per_core: float = 4.0  # a machine of C cores has C × this RAM


@dataclass
class EngineFit:
    """One engine's fitted model, normalised to one core."""

    fixed_1core_s: float
    per_row_1core_s: float
    fixed_serial: Serial
    rows_serial: Serial
    lines: dict[int, Line]  # per measured core count

    def to_json(self) -> dict:
        return {
            "fixed_1core_s": round(self.fixed_1core_s, 3),
            "per_row_1core_s": self.per_row_1core_s,
            "per_million_rows_1core_s": round(self.per_row_1core_s * 1e6, 3),
            "fixed_serial": asdict(self.fixed_serial),
            "rows_serial": asdict(self.rows_serial),
            "lines": {
                str(c): {
                    "fixed_s": round(line.fixed_s, 3),
                    "per_million_rows_s": round(line.per_row_s * 1e6, 3),
                    "points": [list(p) for p in line.points],
                }
                for c, line in self.lines.items()
            },
        }


def fit_engine(walls: dict[int, dict[float, float]]) -> tuple[EngineFit | None, list[str]]:
    """``walls[cores][rows] = median wall seconds`` → the engine's fit, or None and why."""
    lines = {c: line for c in sorted(walls) if (line := fit_line(sorted(walls[c].items())))}
    if not lines:
        return None, ["needs builds at two scales or more (e.g. --scales 1,10)"]
    if len(lines) < 2:
        return None, ["needs builds on two core counts at each of two scales (e.g. --cores 1,2)"]
    c_lo, c_hi = min(lines), max(lines)
    lo, hi = lines[c_lo], lines[c_hi]
    why = []
    if lo.per_row_s <= 0 or hi.per_row_s <= 0:
        why.append("its build time does not grow with the rows: no data-proportional part")
    if lo.fixed_s <= 0 or hi.fixed_s <= 0:
        why.append("its fitted fixed part is not positive: scales too close or runs too noisy")
    if why:
        return None, why
    rows_serial = serial_fraction(lo.per_row_s, hi.per_row_s, c_lo, c_hi)
    fixed_serial = serial_fraction(lo.fixed_s, hi.fixed_s, c_lo, c_hi)
    if rows_serial is None or fixed_serial is None:  # unreachable: positive times, c_lo < c_hi
        return None, ["no speedup could be computed"]
    return (
        EngineFit(
            fixed_1core_s=fixed_serial.one_core(lo.fixed_s, c_lo),
            per_row_1core_s=rows_serial.one_core(lo.per_row_s, c_lo),
            fixed_serial=fixed_serial,
            rows_serial=rows_serial,
            lines=lines,
        ),
        [],
    )


def duckdb_time(fit: EngineFit, cores: int) -> tuple[float, float]:
    """(fixed s, s per row) of the DuckDB build on one machine of ``cores`` cores."""
    return (
        fit.fixed_1core_s * amdahl(fit.fixed_serial.serial, cores),
        fit.per_row_1core_s * amdahl(fit.rows_serial.serial, cores),
    )


def spark_time(
    fit: EngineFit,
    cores: int,
    machines: int,
    cluster_share: float,
    shuffle_bytes_per_row: float,
    network_gbps: float,
) -> tuple[float, float]:
    """(fixed s, s per row) of the Spark build on ``machines`` machines of ``cores`` cores."""
    s = fit.rows_serial.serial
    per_row = fit.per_row_1core_s * (
        cluster_share * amdahl(s, machines * cores) + (1 - cluster_share) * amdahl(s, cores)
    )
    bandwidth = network_gbps * 1e9 / 8  # bytes per second per machine
    network = shuffle_bytes_per_row * (machines - 1) / (machines**2 * bandwidth)
    return fit.fixed_1core_s * amdahl(fit.fixed_serial.serial, cores), per_row + network


def crossover(duck: tuple[float, float], spark: tuple[float, float]) -> tuple[str, float]:
    """Where Spark's line ``(fixed, per_row)`` is below DuckDB's, for rows ≥ 0:
    ``("from", rows)``, ``("below", rows)`` (only for fewer rows), ``("always", 0)`` or
    ``("never", 0)``."""
    (fd, ad), (fs, as_) = duck, spark
    if as_ < ad:
        return ("always", 0.0) if fs <= fd else ("from", (fs - fd) / (ad - as_))
    if fs < fd:
        return ("always", 0.0) if as_ == ad else ("below", (fd - fs) / (as_ - ad))
    return "never", 0.0


def model(measured: dict, params: Params) -> dict:
    """The whole model from ``measured`` (see ``bench.engines.model_input``):

    ``walls[engine][cores][rows]`` median wall seconds; ``rows_per_scale``; ``max_rows``;
    ``spark_phases`` {phase: [(rows, seconds)]} at the most cores; ``shuffle`` [(rows,
    bytes)]; ``duckdb_rss`` [(rows, MiB)] at the most cores; ``spark_fixed_phases`` (shown
    beside the fit, not fitted).
    """
    out: dict = {
        "params": asdict(params),
        "assumptions": assumptions(params),
        # measured directly (Σ over domains, most cores): the intercept's cross-check
        "spark_fixed_phases": measured.get("spark_fixed_phases", []),
    }
    fits, missing = {}, {}
    for engine in ("duckdb", "spark"):
        fit, why = fit_engine(measured["walls"].get(engine, {}))
        if fit:
            fits[engine] = fit
            out[engine] = fit.to_json()
        else:
            missing[engine] = why
    if missing:
        out["status"] = "insufficient"
        out["missing"] = missing
        return out
    share, share_note = cluster_share(measured.get("spark_phases", {}))
    shuffle = fit_line(measured.get("shuffle", []))
    shuffle_per_row = max(0.0, shuffle.per_row_s) if shuffle else 0.0
    memory = fit_line(measured.get("duckdb_rss", []))
    out |= {
        "status": "ok",
        "spark_cluster_share": round(share, 3),
        "spark_cluster_share_note": share_note,
        "spark_shuffle_bytes_per_row": round(shuffle_per_row, 2),
        "spark_shuffle_note": "" if shuffle else "no shuffle measurement: network term left out",
        "duckdb_rss_mib": (
            {
                "fixed_mib": round(memory.fixed_s, 1),
                "per_million_rows_mib": round(memory.per_row_s * 1e6, 1),
            }
            if memory
            else None
        ),
        "rows_per_scale": measured["rows_per_scale"],
        "max_measured_rows": measured["max_rows"],
    }
    rows = []
    for cores in params.cores:
        duck = duckdb_time(fits["duckdb"], cores)
        ram_mib = params.ram_gib_per_core * cores * 1024
        memory_wall = (
            (ram_mib - memory.fixed_s) / memory.per_row_s
            if memory and memory.per_row_s > 0
            else None
        )
        for machines in params.machines:
            spark = spark_time(
                fits["spark"], cores, machines, share, shuffle_per_row, params.network_gbps
            )
            rows.append(
                _verdict(
                    cores, machines, duck, spark, memory_wall, measured, params.ram_gib_per_core
                )
            )
    out["extrapolation"] = rows
    return out


def cluster_share(phases: dict[str, list[tuple[float, float]]]) -> tuple[float, str]:
    """Of Spark's per-row step time, the share of dbt executing (tasks on the executors)."""
    exec_line = fit_line(phases.get("dbt_exec_s", []))
    step_line = fit_line(phases.get("step_s", []))
    if not exec_line or not step_line or step_line.per_row_s <= 0:
        return 1.0, "not measured: assumed 1 (all of it scales with the cluster; favours Spark)"
    share = min(1.0, max(0.0, exec_line.per_row_s / step_line.per_row_s))
    return share, "per-row slope of dbt's execution phase / per-row slope of the summed step time"


def _verdict(cores, machines, duck, spark, memory_wall, measured, ram_gib_per_core) -> dict:
    per_scale = measured["rows_per_scale"]
    kind, rows = crossover(duck, spark)
    row = {
        "cores": cores,
        "machines": machines,
        "duckdb_fixed_s": round(duck[0], 2),
        "duckdb_s_per_scale": round(duck[1] * per_scale, 3),
        "spark_fixed_s": round(spark[0], 2),
        "spark_s_per_scale": round(spark[1] * per_scale, 3),
        "duckdb_memory_wall_scale": (
            round(memory_wall / per_scale, 1) if memory_wall and memory_wall > 0 else None
        ),
        "crossover": kind,
        "crossover_scale": round(rows / per_scale, 2) if kind in ("from", "below") else None,
    }
    if kind == "never":
        row["verdict"] = NO_CROSSOVER
        return row
    if kind == "always":
        row["verdict"] = "Spark's line is below DuckDB's at every scale in the model"
        return row
    if kind == "below":
        row["verdict"] = (
            f"Spark faster only below scale ≈ {rows / per_scale:,.2f} (its fixed part is smaller, "
            "its per-row time larger)"
        )
        return row
    notes = []
    beyond = rows / measured["max_rows"]
    if beyond > 1:
        notes.append(f"{beyond:,.0f}× beyond the largest measured scale")
    if memory_wall and rows > memory_wall > 0:
        notes.append(
            f"past DuckDB's memory wall at this machine size ({ram_gib_per_core:g} GiB/core): "
            "DuckDB spills there and the model underestimates its time"
        )
    row["verdict"] = f"Spark faster from scale ≈ {rows / per_scale:,.1f}" + (
        f" ({'; '.join(notes)})" if notes else ""
    )
    return row


def assumptions(params: Params) -> list[str]:
    return [
        "time = fixed + per_row × rows per engine, a straight line through the measured "
        "scales; nothing bends it beyond them (no spilling, no skew, no stragglers)",
        "Amdahl's law with the serial fractions measured between the smallest and largest "
        "measured core counts holds up to C (DuckDB) and N × C (Spark's executor share) cores",
        "DuckDB runs on one machine of C cores and "
        f"{params.ram_gib_per_core:g} GiB RAM per core; past its memory wall it spills",
        "Spark's fixed part (driver JVM, session, the driver's dbt parse, source registration, "
        "executor start) does not grow with the number of machines (favours Spark); the cluster "
        "is already running (its start-up, measured, is not counted)",
        "of Spark's per-row time only the dbt execution share runs on the executors; Soda, "
        "publishing and Dagster run in the driver on one machine",
        f"shuffled bytes cross a {params.network_gbps:g} Gbit/s network per machine, all-to-all: "
        "(N − 1)/N of them leave their machine; latency and stragglers are ignored",
        "independent domains build in parallel in both engines, as the mesh does; the measured "
        "1 → 2 core speedup includes that",
    ]

"""The result files of ``bench.engines``: ``<name>.json`` (everything) and ``<name>.md`` (tables),
in the style of ``bench/report.py``."""

from __future__ import annotations

from pathlib import Path

from bench import report
from bench.engine_model import NO_CROSSOVER

MIB = 1024 * 1024
# (key in the per-domain breakdown, label, engines it applies to)
PHASES = [
    ("plan_s", "run planning", "both"),
    ("spark_session_s", "Spark session (driver JVM + session)", "spark"),
    ("spark_parse_s", "dbt parse for registration", "spark"),
    ("spark_register_s", "source registration", "spark"),
    ("pre_dbt_other_s", "other before dbt", "spark"),
    ("pre_dbt_s", "step start → dbt launched", "duckdb"),
    ("dbt_startup_parse_s", "dbt start + parse", "both"),
    ("dbt_exec_s", "dbt executing", "both"),
    ("post_dbt_s", "audit + publish (Soda, governance, publish, events)", "both"),
    ("step_s", "Σ step", "both"),
]


def _variant(row: dict) -> str:
    return f"{'DuckDB' if row['engine'] == 'duckdb' else 'Spark'}, {row['cores']} core(s)"


def _stat(row: dict, key: str, fmt: str = "{:.1f}", spread: bool = False) -> str:
    stat = row.get(key)
    if not stat:
        return "—"
    text = fmt.format(stat["median"])
    if spread and stat["n"] > 1:
        text += f" ({fmt.format(stat['min'])}–{fmt.format(stat['max'])})"
    return text


def _num(value, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def header(result: dict) -> list[str]:
    m, cfg = result["machine"], result["config"]
    git = m.get("git") or {}
    state = (
        f"**partial: {cfg['partial']}**" if cfg.get("partial") else f"{cfg['repeat']} repetition(s)"
    )
    data = ", ".join(
        f"scale {s}: {d['play_events']:,} play events, {d['rows']:,} source rows"
        for s, d in result["data"].items()
    )
    lines = [
        "# Mesh on DuckDB beside the mesh on Spark",
        "",
        f"{result['finished_at']} · {state}, interleaved · domains: {', '.join(cfg['domains'])}"
        + (
            f" (upstream {', '.join(cfg['upstream_built_on_duckdb'])} built once on DuckDB, "
            "untimed)"
            if cfg["upstream_built_on_duckdb"]
            else ""
        )
        + f" · {data} · medians (min–max)",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, {m['platform']}, "
        f"Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
        + f". Git {git.get('commit', '?')[:12]} ({git.get('branch', '?')}"
        + (", with uncommitted changes" if git.get("dirty") else "")
        + f"). Load average at start {m['loadavg_at_start'][0]:.2f}, at end "
        f"{m.get('loadavg_at_end', [0])[0]:.2f}. DuckDB memory limit per database instance: "
        f"{cfg['duckdb_memory_limit']}; Spark: {cfg['spark_worker_memory']} per worker"
        + ("; Spark event log on" if cfg["spark_event_log"] else "")
        + (f". Note: {cfg['note']}" if cfg.get("note") else "")
        + ".",
    ]
    if result.get("leftover_spark_pids"):
        lines += ["", f"⚠ Spark processes outlived their cluster: {result['leftover_spark_pids']}"]
    return lines


def builds_table(rows: dict) -> list[str]:
    lines = [
        "| variant | builds | wall s | CPU s (build tree) | CPU s (cluster JVMs) | peak RSS MiB "
        "(build tree) | peak RSS MiB (cluster JVMs) | peak RSS MiB (both at once) "
        "| cluster start s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        failed = f" ⚠ {row['failed']} failed" if row["failed"] else ""
        lines.append(
            f"| {_variant(row)}{failed} | {row['runs'] - row['failed']}/{row['runs']} "
            f"| {_stat(row, 'wall_s', spread=True)} | {_stat(row, 'cpu_s')} "
            f"| {_stat(row, 'cluster_cpu_s')} | {_stat(row, 'peak_rss_mib', '{:.0f}')} "
            f"| {_stat(row, 'also_peak_rss_mib', '{:.0f}')} "
            f"| {_stat(row, 'combined_peak_rss_mib', '{:.0f}')} | {_stat(row, 'cluster_start_s')} |"
        )
    ratios = []
    for cores in sorted({r["cores"] for r in rows.values()}):
        duck, spark = rows.get(f"duckdb:{cores}"), rows.get(f"spark:{cores}")
        if duck and spark and duck.get("wall_s") and spark.get("wall_s"):
            ratio = spark["wall_s"]["median"] / duck["wall_s"]["median"]
            ratios.append(f"{ratio:.2f} on {cores} core(s)")
    if ratios:
        lines += ["", "Spark's build / DuckDB's build (median wall): " + ", ".join(ratios) + "."]
    return lines


def spark_table(rows: dict) -> list[str]:
    spark = [r for r in rows.values() if r.get("spark")]
    if not spark:
        return []
    lines = [
        "",
        "Spark's own accounting (its event log, Σ over the build's applications, one per Spark "
        "domain's step process):",
        "",
        "| variant | jobs | tasks | Σ task s | executor CPU s | shuffle written MiB "
        "| shuffle read MiB | input MiB | executors up after s (Σ) "
        "| first statement s (Hive metastore start, Σ) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in spark:
        s = row["spark"]
        lines.append(
            f"| {_variant(row)} | {s['jobs']:.0f} | {s['tasks']:.0f} | {s['task_s']:.1f} "
            f"| {s['executor_cpu_s']:.1f} | {s['shuffle_write_bytes'] / MIB:.1f} "
            f"| {s['shuffle_read_bytes'] / MIB:.1f} | {s['input_bytes'] / MIB:.1f} "
            f"| {s['executors_ready_s']:.1f} | {s.get('first_sql_s', 0.0):.1f} |"
        )
    return lines


def phase_table(rows: dict) -> list[str]:
    columns = [(key, label) for key, label, _ in PHASES]
    lines = [
        "",
        "Where the time goes, per domain (Dagster event log of each build + dbt's "
        "run_results.json; medians; Σ sums the domains, which build in parallel where "
        "independent, so Σ exceeds the wall time):",
        "",
        "| domain | variant | " + " | ".join(label for _, label in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    domains: list[str] = []
    for row in rows.values():
        domains += [d for d in row.get("phases", {}) if d not in domains and d != "Σ"]
    for domain in [*domains, "Σ"] if len(domains) > 1 else domains:
        for row in rows.values():
            phases = row.get("phases", {}).get(domain)
            if not phases:
                continue
            cells = []
            for key, _, engines in PHASES:
                applies = engines == "both" or engines == row["engine"]
                cells.append(_num(phases.get(key)) if applies else "")
            name = f"**{domain}**" if domain == "Σ" else domain
            lines.append(f"| {name} | {_variant(row)} | " + " | ".join(cells) + " |")
    starts = [
        f"{_variant(r)} {r['cluster_start_s']['median']:.1f} s"
        for r in rows.values()
        if r.get("cluster_start_s")
    ]
    if starts:
        lines += ["", "Cluster start (master + workers up, before the build): " + ", ".join(starts)]
    return lines


def _fixed_md(model: dict) -> list[str]:
    rows = model.get("spark_fixed_phases") or []
    if not rows:
        return []
    return [
        "",
        "Spark's fixed cost measured directly (most cores; Σ over domains of session + dbt parse "
        "for registration + source registration, which the domains pay in parallel where "
        "independent; cluster start apart): "
        + ", ".join(
            f"scale {r['scale']:g}: {r['session_parse_registration_s']:.1f} s"
            + (f" + cluster start {r['cluster_start_s']:.1f} s" if r.get("cluster_start_s") else "")
            for r in rows
        )
        + ". It should barely change with the scale; the fitted fixed part below holds it plus "
        "the mesh's own fixed cost (compare DuckDB's).",
    ]


def model_md(model: dict) -> list[str]:
    lines = ["", "## Scaling model", *_fixed_md(model), ""]
    if model.get("status") != "ok":
        lines.append("Not fitted — " + "; ".join(
            f"{engine}: {', '.join(why)}" for engine, why in model.get("missing", {}).items()
        ) + ".")  # fmt: skip
        lines += ["", f"Extrapolation: {NO_CROSSOVER} (nothing measured to extrapolate from)."]
        return lines
    lines += [
        "| engine | measured cores | fixed s | s per million rows | Amdahl s (fixed) "
        "| Amdahl s (per row) | 1-core fixed s | 1-core s per million rows |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for engine in ("duckdb", "spark"):
        fit = model[engine]
        for cores, line in fit["lines"].items():
            lines.append(
                f"| {engine} | {cores} | {line['fixed_s']:.1f} | {line['per_million_rows_s']:.2f} "
                f"| {fit['fixed_serial']['serial']:.2f} | {fit['rows_serial']['serial']:.2f} "
                f"| {fit['fixed_1core_s']:.1f} | {fit['per_million_rows_1core_s']:.2f} |"
            )
    notes = [
        f"{engine}: {fit[part]['clamped']}"
        for engine in ("duckdb", "spark")
        for part in ("fixed_serial", "rows_serial")
        if (fit := model[engine])[part]["clamped"]
    ]
    if notes:
        lines += ["", "Clamped: " + "; ".join(notes) + "."]
    rss = model.get("duckdb_rss_mib")
    lines += [
        "",
        f"Speedups 1 → most cores: DuckDB per-row {model['duckdb']['rows_serial']['speedup']:.2f}, "
        f"Spark per-row {model['spark']['rows_serial']['speedup']:.2f}. Spark's executor share of "
        f"its per-row time q = {model['spark_cluster_share']:.2f} "
        f"({model['spark_cluster_share_note']}); shuffled bytes per source row "
        f"{model['spark_shuffle_bytes_per_row']:.1f}"
        + (f" ({model['spark_shuffle_note']})" if model["spark_shuffle_note"] else "")
        + (
            f"; DuckDB peak RSS ≈ {rss['fixed_mib']:.0f} MiB + {rss['per_million_rows_mib']:.0f} "
            "MiB per million rows"
            if rss
            else ""
        )
        + f". One scale unit = {model['rows_per_scale']:,.0f} source rows.",
        "",
        "| cores per machine | Spark machines | DuckDB fixed s | DuckDB s per scale unit "
        "| Spark fixed s | Spark s per scale unit | DuckDB memory wall (scale) | verdict |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in model["extrapolation"]:
        lines.append(
            f"| {row['cores']} | {row['machines']} | {row['duckdb_fixed_s']:.1f} "
            f"| {row['duckdb_s_per_scale']:.2f} | {row['spark_fixed_s']:.1f} "
            f"| {row['spark_s_per_scale']:.2f} | {_num(row['duckdb_memory_wall_scale'])} "
            f"| {row['verdict']} |"
        )
    lines += ["", "Model and assumptions (bench/engine_model.py):", ""]
    lines += [f"- {a}" for a in model["assumptions"]]
    return lines


def markdown(result: dict) -> str:
    lines = header(result)
    for scale, rows in result["summary"].items():
        d = result["data"][scale]
        lines += ["", f"## Scale {scale} ({d['play_events']:,} play events)", ""]
        lines += builds_table(rows) + spark_table(rows) + phase_table(rows)
    lines += model_md(result["model"])
    lines += [
        "",
        "Method: each build is `mesh materialize --full-refresh [domains]` in a fresh data dir "
        "(sources hard-linked), its own OS process tree, one at a time; wall time spawn → exit; "
        "CPU = user + system of the reaped tree (includes the Spark driver JVMs, which run in "
        "the domains' step processes); the cluster's JVMs (master, workers, executors) are not "
        "in the tree: their CPU is read from /proc (executors that ended count in their worker) "
        "and their RSS sampled beside the tree, every 50 ms. Pinned variants run under `taskset` "
        "(build) and with the cluster started on the same CPUs (1 worker × 1 core on one core). "
        "Cluster start is not part of the Spark build's wall time. See bench/README.md.",
        "",
    ]
    return "\n".join(lines)


def write(result: dict, out_dir: Path, name: str) -> tuple[Path, Path]:
    return report.write(result, out_dir, name, render=markdown)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.engines_report results/engines.json``: re-render the Markdown."""
    report.rerender(argv, "bench.engines_report", markdown)


if __name__ == "__main__":
    main()

"""Summaries and the two result files: ``<name>.json`` (everything) and ``<name>.md`` (tables)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

VARIANTS = {
    "raw_duckdb": "(1) raw DuckDB: compiled run SQL of all models, one process (floor)",
    "dbt_build": "(2a) plain `dbt build` per domain, same projects (peer)",
    "dbt_monolith": "(2b) one dbt project of every domain's models, one `dbt build --threads 2` (peer)",
    "mesh_full": "(3) mesh: full materialization, contracts, publish (fresh dir)",
    "mesh_increment": "(4) mesh: one new day + everything downstream",
    "mesh_full_warm": "(4') mesh: full rebuild after the new day (same dir, warm)",
}
PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "dagster-dbt", "soda-core", "pandas")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict:
    def pkg(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "ram_gib": _ram_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": {name: pkg(name) for name in PACKAGES},
        "loadavg_at_start": list(os.getloadavg()),
    }


def summarize(values: list[float]) -> dict:
    if not values:
        return {}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def summarize_samples(samples: list[dict]) -> dict:
    out = {}
    for variant in [*VARIANTS, *sorted({s["variant"] for s in samples} - set(VARIANTS))]:
        mine = [s for s in samples if s["variant"] == variant]
        if not mine:
            continue
        ok = [s for s in mine if s["ok"]]
        out[variant] = {
            "wall_s": summarize([s["wall_s"] for s in ok]),
            "cpu_s": summarize([s["cpu_s"] for s in ok]),
            "peak_rss_mib": summarize([s["peak_rss_mib"] for s in ok]),
            "failed": len(mine) - len(ok),
        }
    return out


def _ratio(summary: dict, a: str, b: str) -> float | None:
    try:
        return round(summary[a]["wall_s"]["median"] / summary[b]["wall_s"]["median"], 2)
    except (KeyError, ZeroDivisionError):
        return None


def ratios(summary: dict) -> dict:
    return {
        "mesh/raw": _ratio(summary, "mesh_full", "raw_duckdb"),
        "mesh/dbt": _ratio(summary, "mesh_full", "dbt_build"),
        "mesh/monolith": _ratio(summary, "mesh_full", "dbt_monolith"),
        "monolith/raw": _ratio(summary, "dbt_monolith", "raw_duckdb"),
        "dbt/raw": _ratio(summary, "dbt_build", "raw_duckdb"),
        "increment/full": _ratio(summary, "mesh_increment", "mesh_full_warm"),
        "increment/full_cold": _ratio(summary, "mesh_increment", "mesh_full"),
        "full_warm/full_cold": _ratio(summary, "mesh_full_warm", "mesh_full"),
    }


def _cell(stat: dict, key: str, fmt: str = "{:.1f}") -> str:
    return fmt.format(stat[key]) if stat else "—"


def _median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def _repetitions(cfg: dict) -> str:
    planned = cfg.get("repeat_planned", cfg["repeat"])
    if cfg["repeat"] < planned:
        return f"**partial: {cfg['repeat']} of {planned} interleaved repetitions done**"
    return f"{cfg['repeat']} interleaved repetitions"


def markdown(result: dict) -> str:
    m, cfg = result["machine"], result["config"]
    lines = [
        f"# Mesh benchmark — scale {cfg['scale']}",
        "",
        f"{result['finished_at']} · {_repetitions(cfg)} · "
        f"{result['data']['play_events']:,} play events over {result['data']['days']} days · "
        f"medians (min–max)",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, {m['platform']}, "
        f"Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
        + f". Load average at start {m['loadavg_at_start'][0]:.2f}, at end "
        f"{m.get('loadavg_at_end', [0])[0]:.2f}"
        + (
            f". DuckDB memory limit per database instance: {cfg['duckdb_memory_limit']}"
            if cfg.get("duckdb_memory_limit")
            else ""
        )
        + (f". Note: {cfg['note']}" if cfg.get("note") else "")
        + ".",
        "",
        "| variant | median s | min s | max s | CPU s | peak RSS MiB (tree) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for variant, stat in result["summary"].items():
        label = VARIANTS.get(variant, variant)
        failed = f" ⚠ {stat['failed']} failed" if stat["failed"] else ""
        lines.append(
            f"| {label}{failed} | {_cell(stat['wall_s'], 'median')} | {_cell(stat['wall_s'], 'min')} "
            f"| {_cell(stat['wall_s'], 'max')} | {_cell(stat['cpu_s'], 'median')} "
            f"| {_cell(stat['peak_rss_mib'], 'median', '{:.0f}')} |"
        )
    lines += ["", "| ratio (medians of wall time) | value |", "|---|---:|"]
    for name, value in result["ratios"].items():
        lines.append(f"| {name} | {value if value is not None else '—'} |")
    lines += _breakdown_md(result) + _soda_md(result) + _port_uniqueness_md(result)
    lines += _defs_md(result) + _consistency_md(result)
    lines += [
        "",
        "Method: every variant is a separate OS process tree (start-up costs included), run "
        "one at a time; wall time from spawn to exit, CPU = user+system of the tree, peak RSS = "
        "max over 50 ms samples of the summed RSS of the process and all descendants (shared "
        "pages counted per process). (2a) and (1) read the upstream ports published by the mesh "
        "run of the same repetition (identical data); (1) executes the run SQL dbt wrote in "
        "(2a); (2b) reads no port: its cross-domain reads are refs inside one project. "
        "Python bytecode caches are "
        + ("warm (PYTHONPYCACHEPREFIX)" if cfg.get("pycache") else "as the environment has them")
        + ". See bench/README.md.",
        "",
    ]
    return "\n".join(lines)


def _breakdown_md(result: dict) -> list[str]:
    rows = result.get("breakdown_summary") or {}
    if not rows:
        return []
    keys = [
        ("plan_s", "run planning (planned events)"),
        ("pre_dbt_s", "step start → dbt launched"),
        ("dbt_startup_parse_s", "dbt process start + parse"),
        ("dbt_exec_s", "dbt executing nodes"),
        ("model_s", "  Σ model SQL (2 dbt threads)"),
        ("post_dbt_s", "Soda + publish + events"),
        ("step_s", "Σ step time"),
        ("run_s", "Σ run time"),
        ("events", "Dagster events written"),
    ]
    lines = [
        "",
        "## Where the mesh's time goes (Σ over all runs/steps, medians; steps of independent "
        "domains overlap, so sums exceed wall time)",
        "",
        "| phase | " + " | ".join(rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for key, label in keys:
        lines.append(
            f"| {label} | "
            + " | ".join(
                "—"
                if rows[v].get(key) is None
                else f"{rows[v][key]:.1f}"
                if key != "events"
                else f"{rows[v][key]:.0f}"
                for v in rows
            )
            + " |"
        )
    return lines


def _soda_md(result: dict) -> list[str]:
    soda = result.get("soda")
    if not soda:
        return []
    return [
        "",
        "## Soda verification share",
        "",
        f"Verifying all {soda['checks']} contract checks of the 15 ports, timed on their own on "
        f"the built warehouse files: **{soda['verify_s']:.2f} s** (+ {soda['soda_import_s']:.2f} s "
        f"importing Soda once per worker process) = **{soda['share_of_full_wall'] * 100:.1f} %** "
        f"of the full mesh build's wall time and {soda['share_of_step_time'] * 100:.1f} % of its "
        f"summed step time. Publishing the Parquet snapshots, timed the same way: "
        f"{soda['publish_s']:.2f} s. In the build itself, everything after dbt (Soda + publish + "
        f"writing the materialization and check events) takes {soda['post_dbt_s']:.1f} s summed "
        f"over steps ({soda['post_dbt_share_of_step_time'] * 100:.1f} % of step time); what Soda "
        f"and publishing do not explain "
        f"(≈ {max(0.0, soda['post_dbt_s'] - soda['verify_s'] - soda['publish_s']):.1f} s) is "
        "Dagster writing events and waiting for a CPU shared with the parallel domain.",
    ]


def _port_uniqueness_md(result: dict) -> list[str]:
    rows = result.get("port_uniqueness")
    if not rows:
        return []
    lines = [
        "",
        "## Port-level uniqueness in the increment",
        "",
        "The new day's keys of each `duplicate` check verified against the days the port "
        "already publishes (mesh_platform/build/port_uniqueness.py), timed inside the build "
        "(`mesh/port_check_seconds`); alone: `python -m bench.port_uniqueness`.",
        "",
        "| asset | check | median s | max s | repetitions |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['asset']} | {r['check']} | {r['median_s']:.3f} | {r['max_s']:.3f} "
            f"| {r['repetitions']} |"
        )
    return lines


def _defs_md(result: dict) -> list[str]:
    defs = result.get("defs_load")
    if not defs:
        return []
    lines = [
        "",
        "## Definitions load per code location (fresh process each, medians)",
        "",
        "| code location | process wall s | imports s | build Definitions s | repository snapshot s "
        "| assets | schedules | peak RSS MiB | manifest re-parsed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in defs.items():
        lines.append(
            f"| {name} | {_cell(row['wall_s'], 'median', '{:.2f}')} | {_fmt(row.get('imports_s'))} "
            f"| {_fmt(row.get('definitions_s'))} | {_fmt(row.get('snapshot_s'))} "
            f"| {row.get('assets', '—')} | {row.get('schedules', '—')} "
            f"| {_cell(row['peak_rss_mib'], 'median', '{:.0f}')} "
            f"| {'yes ⚠' if row.get('manifest_reparsed') else 'no'} |"
        )
    return lines


def _fmt(value, fmt: str = "{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _consistency_md(result: dict) -> list[str]:
    rows = result.get("consistency") or {}
    if not rows:
        return []
    if any(v is None for r in rows.values() for v in r.values()):
        verdict = "are INCOMPLETE — a variant failed, see the run's logs"
    elif all(len(set(r.values())) == 1 for r in rows.values()):
        verdict = "are identical"
    else:
        verdict = "DIFFER — see the JSON result"
    labels = {"raw": "(1)", "dbt": "(2a)", "monolith": "(2b)", "mesh": "(3)"}
    measured = sorted({v for r in rows.values() for v in r}, key=list(labels).index)
    names = [labels[v] for v in measured]
    return [
        "",
        f"Consistency: rows of every output-port table after "
        f"{' and '.join(filter(None, [', '.join(names[:-1]), names[-1]]))} {verdict} ("
        + ", ".join(
            f"{k} {_fmt(next(iter(v.values())), '{:,}')}" for k, v in list(rows.items())[:3]
        )
        + ", …).",
    ]


def write(
    result: dict, out_dir: Path, name: str, render: Callable[[dict], str] | None = None
) -> tuple[Path, Path]:
    """``<name>.json`` and its Markdown (``render``, this module's :func:`markdown` by default)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    md_path.write_text((render or markdown)(result))
    return json_path, md_path


def rerender(argv: list[str] | None, prog: str, render: Callable[[dict], str]) -> None:
    """``python -m <prog> results/<name>.json``: re-render the Markdown from the JSON."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("json", type=Path)
    args = parser.parse_args(argv)
    result = json.loads(args.json.read_text())
    args.json.with_suffix(".md").write_text(render(result))


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.report results/latest.json``: re-render the Markdown from the JSON."""
    rerender(argv, "bench.report", markdown)


if __name__ == "__main__":
    main()

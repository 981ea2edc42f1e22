"""Where a mesh invocation's time went, per Dagster run and step, from the instance's event log.

For every run started after ``--since`` (epoch seconds) in the data dir's instance:

- ``plan_s``: run created → run started (writing the planned-materialization/check events,
  one per asset *and partition*);
- ``pre_dbt_s``: step started → dagster-dbt launches ``dbt`` (selection, manifest handling);
- ``dbt_s``: ``dbt build`` subprocess, split with dbt's ``run_results.json`` into
  ``dbt_exec_s`` (dbt's own elapsed time running nodes; ``model_s`` is the sum of the nodes'
  times) and ``dbt_startup_parse_s`` (process start, imports, parsing the project);
- ``post_dbt_s``: dbt done → step done: Soda verification, Parquet publishing and writing the
  materialization/check events;
- ``run_s``: the whole run, from creation to its last event.

A step of a domain that builds on Spark (``build/engines/spark.py``) logs when its Spark
session is up and when its sources are registered; its ``pre_dbt_s`` is then split into
``spark_session_s`` (driver JVM start + session on the cluster), ``spark_parse_s`` (the
project's ``dbt parse`` for the spark target, which registration needs: session line →
registration start), ``spark_register_s`` and the rest; its dbt artifacts are under
``<data>/dbt/<step>_spark/``.

Events are counted per type, so the per-partition cost of a backfill run shows.

    python -m bench.breakdown --data-dir DIR --since 1790000000.0 --report out.json
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import dagster as dg

RUNNING, FINISHED = "Running dbt command", "Finished dbt command"
# the two timing lines a Spark step logs (mesh_platform/build/engines/spark.py)
SPARK_SESSION = re.compile(r"^domain \S+: Spark session on \S+ in ([\d.]+)s")
SPARK_REGISTERED = re.compile(r"^domain \S+: registered (\d+) source\(s\) in Spark in ([\d.]+)s")
SPARK_KEYS = ("spark_session_s", "spark_parse_s", "spark_register_s", "pre_dbt_other_s")


def _run_results(data_dir: Path, step: str) -> dict:
    path = data_dir / "dbt" / step / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())
    return {
        "dbt_exec_s": round(results.get("elapsed_time") or 0.0, 3),
        "model_s": round(sum(r.get("execution_time") or 0.0 for r in results["results"]), 3),
        "nodes": len(results["results"]),
        "generated_at": results["metadata"].get("generated_at"),
    }


def run_breakdown(instance: dg.DagsterInstance, data_dir: Path, run_id: str) -> dict:
    logs = instance.all_logs(run_id)
    counts = Counter(e.dagster_event.event_type_value if e.dagster_event else "LOG" for e in logs)
    first, last = logs[0].timestamp, logs[-1].timestamp
    start = next(
        (
            e.timestamp
            for e in logs
            if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_START"
        ),
        first,
    )
    steps: dict[str, dict] = {}
    for e in logs:
        step = e.step_key
        if not step:
            continue
        info = steps.setdefault(step, {"step": step})
        kind = e.dagster_event.event_type_value if e.dagster_event else "LOG"
        message = e.user_message or ""
        if kind == "STEP_START":
            info["start"] = e.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            info["end"] = e.timestamp
            info["success"] = kind == "STEP_SUCCESS"
        elif kind == "LOG" and message.startswith(RUNNING):
            info["dbt_start"] = e.timestamp
        elif kind == "LOG" and message.startswith(FINISHED):
            info["dbt_end"] = e.timestamp
        elif kind == "LOG" and (match := SPARK_SESSION.match(message)):
            info["session_at"], info["spark_session_s"] = e.timestamp, float(match[1])
        elif kind == "LOG" and (match := SPARK_REGISTERED.match(message)):
            info["registered_at"], info["spark_register_s"] = e.timestamp, float(match[2])
            info["spark_sources"] = int(match[1])
    out_steps = []
    for step, info in steps.items():
        if "start" not in info or "end" not in info:
            continue
        row = {"step": step, "success": info.get("success"), "step_s": info["end"] - info["start"]}
        spark = "session_at" in info
        if spark:
            row["engine"] = "spark"
            row |= {k: info[k] for k in ("spark_session_s", "spark_register_s", "spark_sources")
                    if k in info}  # fmt: skip
            if "registered_at" in info:
                registration_started = info["registered_at"] - info["spark_register_s"]
                row["spark_parse_s"] = max(0.0, registration_started - info["session_at"])
        if "dbt_start" in info and "dbt_end" in info:
            row["pre_dbt_s"] = info["dbt_start"] - info["start"]
            row["dbt_s"] = info["dbt_end"] - info["dbt_start"]
            row["post_dbt_s"] = info["end"] - info["dbt_end"]
            row |= _run_results(data_dir, f"{step}_spark" if spark else step)
            if "dbt_exec_s" in row:
                row["dbt_startup_parse_s"] = row["dbt_s"] - row["dbt_exec_s"]
            if spark:
                row["pre_dbt_other_s"] = row["pre_dbt_s"] - sum(
                    row.get(k, 0.0)
                    for k in ("spark_session_s", "spark_parse_s", "spark_register_s")
                )
        out_steps.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    run = instance.get_run_by_id(run_id)
    partition = run.tags.get("dagster/partition") or (
        f"{run.tags['dagster/asset_partition_range_start']}..{run.tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in run.tags
        else None
    )
    return {
        "run_id": run_id,
        "partition": partition,
        "created": round(first, 3),
        "plan_s": round(start - first, 3),
        "run_s": round(last - first, 3),
        "steps": out_steps,
        "events": dict(sorted(counts.items())),
    }


def breakdown(data_dir: Path, since: float) -> list[dict]:
    instance = dg.DagsterInstance.from_config(str(data_dir / "dagster_home"))
    runs = []
    for record in instance.get_run_records():
        logs = instance.all_logs(record.dagster_run.run_id)
        if logs and logs[0].timestamp >= since:
            runs.append(run_breakdown(instance, data_dir, record.dagster_run.run_id))
    return sorted(runs, key=lambda r: r["created"])


def totals(runs: list[dict]) -> dict:
    """Sums over every step of the invocation (CPU-parallel steps add up beyond the wall)."""
    keys = (
        "step_s",
        "pre_dbt_s",
        "dbt_s",
        "dbt_startup_parse_s",
        "dbt_exec_s",
        "model_s",
        "post_dbt_s",
    )
    sums = {k: round(sum(s.get(k, 0.0) for r in runs for s in r["steps"]), 3) for k in keys}
    if any(s.get("engine") == "spark" for r in runs for s in r["steps"]):
        for k in SPARK_KEYS:
            sums[k] = round(sum(s.get(k, 0.0) for r in runs for s in r["steps"]), 3)
    sums["plan_s"] = round(sum(r["plan_s"] for r in runs), 3)
    sums["run_s"] = round(sum(r["run_s"] for r in runs), 3)
    sums["runs"] = len(runs)
    sums["steps"] = sum(len(r["steps"]) for r in runs)
    events = Counter()
    for r in runs:
        events.update(r["events"])
    sums["events"] = sum(events.values())
    return sums


def step_domain(step: str, domains: list[str]) -> str | None:
    """The domain of a build step (``<domain>_dbt``, ``<domain>_dbt_daily``, …)."""
    mine = [d for d in domains if step == f"{d}_dbt" or step.startswith(f"{d}_dbt_")]
    return max(mine, key=len) if mine else None


def per_domain(runs: list[dict], domains: list[str]) -> dict[str, dict]:
    """:func:`totals` per domain: its runs' planning plus the sums over its steps."""
    out: dict[str, dict] = {}
    for domain in domains:
        mine = []
        for run in runs:
            steps = [s for s in run["steps"] if step_domain(s["step"], domains) == domain]
            if steps:
                mine.append({**run, "steps": steps})
        if mine:
            out[domain] = totals(mine)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--since", type=float, default=0.0)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    runs = breakdown(args.data_dir.resolve(), args.since)
    text = json.dumps({"runs": runs, "totals": totals(runs)}, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""The port store A/B: the home-made snapshot format (before) against Iceberg tables (after).

Two checkouts of the mesh, each with its own ``.venv``: ``--before`` (e.g. a worktree of the last
commit before ports became Iceberg tables) and this one. Per scale, the operational data is
generated once; then, per repetition, the variants run one after the other (interleaved), each
on a fresh data dir holding hard links to the same sources:

- ``full``: ``mesh materialize --full-refresh`` (every domain, every port published);
- ``day``: one day appended to the sources, then what the automation runs for it
  (``bench.increment_run``): the day's partition of the daily products and what is downstream —
  a day's publish must stay O(day);
- ``read``: one reader process: open the platform's reader (every port leased) and run an
  aggregate over the largest port five times (median of the five, and the open time).

Each is measured as its own process tree (wall, CPU, peak RSS: ``bench.measure``).

    python -m bench.ports_ab --before /work/wt-old --scales 1,10 --reps 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import run_measured
from bench.report import machine, rerender, write
from bench.variants import _link_or_copy

REPO = Path(__file__).resolve().parents[1]
READER = """
import json, statistics, sys, time
from mesh_platform.ports.reader import connect
started = time.perf_counter()
con = connect()
opened = time.perf_counter() - started
sql = ("select event_date, count(*), count(distinct track_id), sum(ms_played) "
       "from playback.play_events group by 1 order by 1")
times = []
for _ in range(5):
    t = time.perf_counter()
    rows = con.execute(sql).fetchall()
    times.append(time.perf_counter() - t)
print(json.dumps({"open_s": round(opened, 3), "query_s": round(statistics.median(times), 3),
                  "days": len(rows)}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ports_ab")
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old store")
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mesh-ports-ab")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    variants = {"before": args.before.resolve(), "after": REPO}
    for name, root in variants.items():
        if not (root / ".venv" / "bin" / "python").exists():
            sys.exit(f"{name}: {root} has no .venv (run make install there)")
    samples: list[dict] = []
    for scale in [float(s) for s in args.scales.split(",")]:
        source = args.work / f"s{scale:g}-sources"
        if not source.exists():
            from bench import DATA_END
            from operational import generate

            generate(source, scale=scale, end=DATA_END)
        for rep in range(1, args.reps + 1):
            for name, root in variants.items():
                samples += _one(args.work, scale, rep, name, root, source)
    result = {"machine": machine(), "config": {"scales": args.scales, "reps": args.reps,
              "before": str(args.before)}, "samples": samples}  # fmt: skip
    json_path, md_path = write(result, args.out, "ports-iceberg", render=render)
    print(f"wrote {json_path} and {md_path}")


def _one(work: Path, scale: float, rep: int, name: str, root: Path, source: Path) -> list[dict]:
    import os

    data = work / f"s{scale:g}-r{rep}-{name}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copytree(source, data / "operational", copy_function=_link_or_copy)
    python = str(root / ".venv" / "bin" / "python")
    env = {**os.environ, "MESH_DATA_DIR": str(data), "PYTHONPATH": str(root)}
    env.pop("VIRTUAL_ENV", None)
    logs = work / "logs"
    out = []

    def measured(kind: str, cmd: list[str]) -> dict:
        print(f"  [s{scale:g} r{rep}] {name} {kind} …", end=" ", flush=True)
        sample = run_measured(f"{name}:{kind}", rep, cmd, env=env, cwd=root,
                              log=logs / f"s{scale:g}-r{rep}-{name}-{kind}.log")  # fmt: skip
        print(f"{sample.wall_s:.1f} s, {sample.peak_rss_mib:.0f} MiB", flush=True)
        row = {**sample.to_json(), "scale": scale, "variant": name, "kind": kind}
        out.append(row)
        return row

    full = measured("full", [python, "-m", "mesh_platform.cli", "materialize", "--full-refresh"])
    if not full["ok"]:
        return out
    sys.path.insert(0, str(REPO))
    from operational.increment import append_day

    day = append_day(data / "operational")
    measured("day", [python, "-m", "bench.increment_run", "--day", day.isoformat(),
                     "--report", str(logs / f"s{scale:g}-r{rep}-{name}-day.json")])  # fmt: skip
    time.sleep(1)
    read = measured("read", [python, "-c", READER])
    log = Path(read["log"]).read_text().strip().splitlines()
    if read["ok"] and log:
        read.update(json.loads(log[-1]))
    shutil.rmtree(data, ignore_errors=True)  # keep the disk: the next variant needs it
    return out


def render(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Port store A/B: snapshot format (before) vs Iceberg tables (after)",
        "",
        f"{result.get('finished_at', '')} · {m.get('cpus', '?')} cores · before = "
        f"`{result['config']['before']}` · {result['config']['reps']} rep(s), variants "
        "interleaved · `python -m bench.ports_ab`",
        "",
        "| scale | step | before s | after s | after/before | before peak MiB | after peak MiB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    by: dict[tuple, list[dict]] = {}
    for s in result["samples"]:
        variant = s["variant"].split(":")[0]  # (older results: "<variant>:<kind>")
        by.setdefault((s["scale"], s["kind"], variant), []).append(s)
    for scale in sorted({s["scale"] for s in result["samples"]}):
        for kind in ("full", "day", "read"):
            before = by.get((scale, kind, "before"), [])
            after = by.get((scale, kind, "after"), [])
            if not before or not after:
                continue
            key = "query_s" if kind == "read" else "wall_s"
            b = statistics.median(s.get(key, s["wall_s"]) for s in before)
            a = statistics.median(s.get(key, s["wall_s"]) for s in after)
            bp = max(s["peak_rss_mib"] for s in before)
            ap = max(s["peak_rss_mib"] for s in after)
            label = {"full": "full build", "day": "one new day", "read": "reader query (median)"}
            lines.append(f"| {scale:g} | {label[kind]} | {b:.2f} | {a:.2f} | {a / b:.2f} | "
                         f"{bp:.0f} | {ap:.0f} |")  # fmt: skip
    opens = [(s["variant"].split(":")[0], s["scale"], s.get("open_s")) for s in result["samples"]
             if s["kind"] == "read" and "open_s" in s]  # fmt: skip
    if opens:
        lines += ["", "Reader open (every port resolved and leased): " + ", ".join(
            f"{v} s{sc:g} {o:.2f} s" for v, sc, o in opens)]  # fmt: skip
    failed = [s for s in result["samples"] if not s["ok"]]
    if failed:
        lines += ["", "Failed: " + ", ".join(f"{s['variant']} (see {s['log']})" for s in failed)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].endswith(".json"):
        rerender(sys.argv[1:], "bench.ports_ab", render)
    else:
        main()

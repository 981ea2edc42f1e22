"""``python -m bench --scale N [--repeat 3] [--out bench/results]``: the mesh benchmark.

Generates Daff's sources once for the scale, then, interleaved for each repetition, measures
raw DuckDB, plain dbt, the mesh's full build, its daily increment and a warm full rebuild;
then the definitions load of every code location (and of 100/500 synthetic products).
Writes ``<out>/<name>.json`` and ``<out>/<name>.md``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import defs_load, report, synthetic
from bench.measure import run_measured
from bench.variants import PY, REPO, Bench, run_rep

TELEMETRY_OFF = {
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_VERSION_CHECK": "false",
}
DEFAULT_PYCACHE = Path(tempfile.gettempdir()) / "mesh-bench-pycache"


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="1 ≈ 1M play events (default 1)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved repetitions (default 3)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--name", default="latest", help="result file name (default latest)")
    p.add_argument("--work", type=Path, help="working dir (default: a new temporary dir)")
    p.add_argument("--keep", action="store_true", help="keep every variant's data dir")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--synthetic", default="100,500", help="synthetic product counts ('' = none)")
    p.add_argument(
        "--defs-repeat", type=int, help="repetitions of definitions loads (default --repeat)"
    )
    p.add_argument("--pycache", type=Path, default=DEFAULT_PYCACHE,
                   help="bytecode cache dir for measured processes (PYTHONPYCACHEPREFIX)")  # fmt: skip
    p.add_argument("--no-pycache", action="store_true", help="measure with the env as it is")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per measured run")
    p.add_argument("--note", default="", help="free text recorded with the results")
    return p.parse_args(argv)


def _base_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_") and k != "DAGSTER_HOME"}
    env.update(TELEMETRY_OFF)
    if not args.no_pycache:
        # Users' Pythons cache bytecode; this sandbox sets PYTHONDONTWRITEBYTECODE and the venv
        # ships none, which would add seconds of compiling to every process. The cache lives
        # outside the repo and the venv.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(args.pycache)
    return env


def _warm_pycache(env: dict[str, str]) -> None:
    import sysconfig

    targets = [
        sysconfig.get_paths()["purelib"],
        *(str(REPO / d) for d in ("mesh_platform", "domains", "operational", "bench")),
    ]
    subprocess.run(
        [PY, "-m", "compileall", "-q", "-j", "0", *targets],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _generate(work: Path, scale: float, seed: int, env: dict[str, str]) -> Path:
    out = work / "source" / "operational"
    subprocess.run(
        [PY, "-m", "operational", "--scale", str(scale), "--seed", str(seed), "--out", str(out)],
        cwd=REPO,
        env=env,
        check=True,
    )
    return out


def _domains_and_ports() -> tuple[list[str], dict[str, str]]:
    from mesh_platform.catalog_model import MARTS_SCHEMA
    from mesh_platform.domain import load_all_domains
    from mesh_platform.runner import domain_order

    domains = domain_order(load_all_domains(REPO / "domains"))
    ports = {
        product.address(port): f"{MARTS_SCHEMA}.{port.model}"
        for d in domains
        for product in d.products
        for port in product.output_ports
    }
    return [d.name for d in domains], dict(sorted(ports.items()))


def _defs_load(bench: Bench, args: argparse.Namespace) -> dict:
    """Baseline import, each code location, synthetic domains: interleaved, fresh processes."""
    counts = [int(n) for n in args.synthetic.split(",") if n.strip()]
    targets: list[tuple[str, list[str], Path]] = [
        ("baseline: import dagster, dagster_dbt", [PY, "-c", defs_load.BASELINE], REPO)
    ]
    for domain in bench.domains:
        script = defs_load.load_script(f"domains.{domain}.definitions")
        targets.append((domain, [PY, "-c", script], REPO))
    for n in counts:
        print(f"preparing a repository copy with {n} synthetic products (untimed) …", flush=True)
        root = synthetic.make_repo(bench.work / f"synthetic-{n}", n)
        synthetic.prepare(root, bench.env)
        script = defs_load.load_script(f"domains.{synthetic.DOMAIN}.definitions")
        targets.append((f"synthetic: {n} products", [PY, "-c", script], root))
    data_dir = bench.work / "defs-data"
    data_dir.mkdir(exist_ok=True)
    raw: dict[str, list[dict]] = {name: [] for name, _, _ in targets}
    for rep in range(1, (args.defs_repeat or args.repeat) + 1):
        for name, cmd, cwd in targets:
            log = bench.work / "logs" / f"defs-r{rep}-{len(raw[name])}-{name.split(':')[0]}.log"
            sample = run_measured(
                f"defs:{name}", rep, cmd, env={**bench.env, "MESH_DATA_DIR": str(data_dir)},
                cwd=cwd, log=log, timeout=args.timeout,
            )  # fmt: skip
            phases = defs_load.parse_phases(log)
            print(f"  [rep {rep}] load {name}: {sample.wall_s:.2f}s {phases or ''}", flush=True)
            raw[name].append({**sample.to_json(), **phases})
    out = {}
    for name, rows in raw.items():
        ok = [r for r in rows if r["ok"]]
        row = {
            "wall_s": report.summarize([r["wall_s"] for r in ok]),
            "peak_rss_mib": report.summarize([r["peak_rss_mib"] for r in ok]),
            "failed": len(rows) - len(ok),
            "samples": rows,
        }
        for key in ("imports_s", "definitions_s", "snapshot_s"):
            values = [r[key] for r in ok if key in r]
            if values:
                row[key] = round(statistics.median(values), 3)
        for key in ("assets", "schedules", "jobs"):
            if ok and key in ok[0]:
                row[key] = ok[0][key]
        row["manifest_reparsed"] = any(r.get("manifest_reparsed") for r in ok)
        out[name] = row
    if not args.keep:
        for n in counts:
            shutil.rmtree(bench.work / f"synthetic-{n}", ignore_errors=True)
    return out


def _median_totals(bench: Bench, key: str) -> dict:
    from bench.breakdown import totals

    per_rep = [totals(v["runs"]) for v in (bench.extra.get(key) or {}).values()]
    if not per_rep:
        return {}
    return {k: round(statistics.median(t[k] for t in per_rep), 3) for k in per_rep[0]}


def _soda_summary(bench: Bench, summary: dict, breakdown: dict) -> dict:
    reps = list((bench.extra.get("soda") or {}).values())
    if not reps or "mesh_full" not in summary or not summary["mesh_full"]["wall_s"]:
        return {}
    med = {
        k: statistics.median(r[k] for r in reps) for k in ("verify_s", "publish_s", "soda_import_s")
    }
    full = breakdown.get("mesh_full", {})
    step_s = full.get("step_s") or float("nan")
    return {
        **{k: round(v, 3) for k, v in med.items()},
        "checks": reps[0]["checks"],
        "share_of_full_wall": round(med["verify_s"] / summary["mesh_full"]["wall_s"]["median"], 4),
        "share_of_step_time": round(med["verify_s"] / step_s, 4),
        "post_dbt_s": full.get("post_dbt_s"),
        "post_dbt_share_of_step_time": round((full.get("post_dbt_s") or 0) / step_s, 4),
        "method": "verify_contract + publish_snapshot re-run on the built warehouse files of each "
        "repetition's full build, in one process; post_dbt_s from the build's event log",
    }


def _result(
    bench: Bench,
    args: argparse.Namespace,
    source: Path,
    machine: dict,
    started: float,
    done: int,
    defs: dict,
) -> dict:
    """The result document of the repetitions measured so far (`done` of `args.repeat`)."""
    samples = [s.to_json() for s in bench.samples]
    summary = report.summarize_samples(samples)
    breakdown = {
        v: _median_totals(bench, f"breakdown_{v}")
        for v in ("mesh_full", "mesh_increment", "mesh_full_warm")
    }
    meta = json.loads((source / "manifest.json").read_text())
    return {
        "config": {
            "scale": args.scale,
            "repeat": done,
            "repeat_planned": args.repeat,
            "seed": args.seed,
            "synthetic": args.synthetic,
            "work": str(bench.work),
            "pycache": None if args.no_pycache else str(args.pycache),
            "domains": bench.domains,
            "note": args.note,
            "seconds": round(time.time() - started, 1),
        },
        "machine": machine,
        "data": {
            "play_events": meta["counts"]["play_events"],
            "days": meta["days"],
            "counts": meta["counts"],
        },
        "summary": summary,
        "ratios": report.ratios(summary),
        "breakdown_summary": {k: v for k, v in breakdown.items() if v},
        "soda": _soda_summary(bench, summary, breakdown),
        "defs_load": defs,
        "consistency": (bench.extra.get("consistency") or {}).get("1", {}),
        "samples": samples,
        "details": {k: v for k, v in bench.extra.items() if k != "consistency"},
    }


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    work = (args.work or Path(tempfile.mkdtemp(prefix="mesh-bench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = _base_env(args)
    machine = report.machine()
    print(f"mesh benchmark: scale {args.scale}, {args.repeat} repetitions, work dir {work}")
    started = time.time()
    if not args.no_pycache:
        print(f"warming the bytecode cache {args.pycache} (untimed) …", flush=True)
        _warm_pycache(env)
    print("generating Daff's sources (untimed) …", flush=True)
    source = _generate(work, args.scale, args.seed, env)
    subprocess.run([PY, "-m", "mesh_platform.cli", "prepare"], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    domains, port_relations = _domains_and_ports()
    bench = Bench(
        work=work, source=source, env=env, domains=domains, keep=args.keep, timeout=args.timeout
    )
    bench.extra["port_relations"] = port_relations
    for rep in range(1, args.repeat + 1):
        print(f"repetition {rep}/{args.repeat}", flush=True)
        run_rep(bench, rep)
        if rep < args.repeat:
            # A long run (scale 50 is hours) that is cut short still leaves its finished
            # repetitions on disk, marked as such, instead of nothing.
            partial = _result(bench, args, source, machine, started, rep, {})
            report.write(partial, args.out, args.name)
    defs = _defs_load(bench, args)
    result = _result(bench, args, source, machine, started, args.repeat, defs)
    json_path, md_path = report.write(result, args.out, args.name)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    failed = [s for s in result["samples"] if not s["ok"]]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

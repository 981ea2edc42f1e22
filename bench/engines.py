"""``python -m bench.engines --scales 1,10 [--domains a,b] [--repeat 1] [--cores 1,2]``: the mesh
built on DuckDB beside the mesh built on Spark.

Per scale, sources are generated once; then, interleaved per repetition and core count, the same
``mesh materialize`` on DuckDB and on Spark (a local standalone cluster the bench starts, timed,
and stops by process id), each in a fresh data dir, measured as a process tree (wall, CPU, peak
RSS; the cluster's JVMs sampled beside it). The Dagster event log of each build says where the
time went per domain; the fit of ``bench.engine_model`` extrapolates to bigger machines and
clusters. Writes ``<out>/<name>.json`` and ``<out>/<name>.md``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import engine_model, engines_report
from bench.__main__ import DEFAULT_PYCACHE, _base_env, _generate, _warm_pycache
from bench.breakdown import per_domain
from bench.measure import Sample, run_measured, session_members, sessions_cpu_seconds
from bench.variants import PY, REPO, Bench, _breakdown, fresh_dir, mesh_cmd

ENGINES = ("duckdb", "spark")
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
GIT = shutil.which("git") or "/usr/bin/git"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return sorted({int(x) for x in text.split(",") if x.strip()})


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__.splitlines()[0])
    p.add_argument("--scales", type=_floats, default=[1.0], help="comma-separated (default 1)")
    p.add_argument("--domains", default="",
                   help="comma-separated domains to build (default: every domain); domains they "
                   "read from are built once per scale on DuckDB, untimed, and their ports copied "
                   "into every measured data dir")  # fmt: skip
    p.add_argument("--repeat", type=int, default=1, help="interleaved repetitions (default 1)")
    p.add_argument("--cores", type=_ints, default=None,
                   help="core counts to run on, e.g. 1,2 (default: every usable core); fewer than "
                   "all pins the build and the cluster with taskset/affinity")  # fmt: skip
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--name", default="engines", help="result file name (default engines)")
    p.add_argument("--work", type=Path, help="working dir (default: a new temporary dir)")
    p.add_argument("--keep", action="store_true", help="keep every build's data dir")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=7200.0, help="seconds per measured build")
    p.add_argument("--pycache", type=Path, default=DEFAULT_PYCACHE)
    p.add_argument("--no-pycache", action="store_true", help="measure with the env as it is")
    p.add_argument(
        "--memory-limit", default=None, help="MESH_DUCKDB_MEMORY_LIMIT (default: mesh's)"
    )
    p.add_argument("--spark-worker-memory", default="1g",
                   help="memory each Spark worker offers its executor (default 1g, what `mesh "
                   "materialize` gives its local cluster)")  # fmt: skip
    p.add_argument("--no-event-log", action="store_true",
                   help="do not write Spark's event log (then no shuffle/task figures)")  # fmt: skip
    p.add_argument("--model-cores", type=_ints, default=[8, 32, 64])
    p.add_argument("--model-machines", type=_ints, default=[1, 4, 16])
    p.add_argument("--network-gbps", type=float, default=10.0)
    p.add_argument("--ram-gib-per-core", type=float, default=4.0)
    p.add_argument("--note", default="", help="free text recorded with the results")
    return p.parse_args(argv)


# --- where a build runs: core counts, pinning, the cluster's shape ------------------------------


def cpu_sets(cores: list[int]) -> dict[int, list[int] | None]:
    """The CPUs of each core count: the first ``n`` usable ones, None for all of them."""
    usable = sorted(os.sched_getaffinity(0))
    out: dict[int, list[int] | None] = {}
    for n in cores:
        if not 1 <= n <= len(usable):
            sys.exit(f"--cores {n}: this machine has {len(usable)} usable cores")
        out[n] = None if n == len(usable) else usable[:n]
    return out


def pinned_cmd(cmd: list[str], cpus: list[int] | None) -> list[str]:
    return cmd if cpus is None else [TASKSET, "-c", ",".join(map(str, cpus)), *cmd]


@contextlib.contextmanager
def pinned(cpus: list[int] | None) -> Iterator[None]:
    """Processes started in the block inherit this thread's CPU affinity (the cluster's JVMs)."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cluster_shape(cores: int) -> tuple[int, int]:
    """(workers, cores per worker): 1 × 1 on one core; 2 workers sharing the cores otherwise
    (2 × 1 on two cores, the cluster `mesh materialize` starts)."""
    return (1, 1) if cores == 1 else (2, max(1, cores // 2))


# --- Spark's event log: tasks, shuffle, executor start ----------------------------------------


def event_log_conf(directory: Path, events: Path) -> Path:
    """A Spark configuration folder: the platform's (its log4j2) plus the event log to
    ``events``; the driver reads it through SPARK_CONF_DIR."""
    from mesh_platform.build.engines.spark import SPARK_CONF_DIR

    directory.mkdir(parents=True, exist_ok=True)
    events.mkdir(parents=True, exist_ok=True)
    for path in SPARK_CONF_DIR.iterdir():
        shutil.copy2(path, directory / path.name)
    (directory / "spark-defaults.conf").write_text(
        "spark.eventLog.enabled true\n"
        f"spark.eventLog.dir file://{events}\n"
        "spark.eventLog.compress false\n"
    )
    return directory


def _event_files(path: Path) -> list[Path]:
    """An application's event-log files: one file, or the parts of a rolling log (Spark 4's
    default: a folder ``eventlog_v2_<app>`` of ``events_<n>_<app>`` files)."""
    if path.is_file():
        return [path]
    parts = [p for p in path.glob("events_*") if p.is_file()]
    return sorted(
        parts, key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else 0
    )


def spark_apps(events: Path) -> list[dict]:
    """Per application (one per Spark domain's build step process) of an event-log folder."""
    apps = []
    for path in sorted(events.iterdir()):
        if path.name.startswith("."):
            continue
        app = {"log": path.name, "tasks": 0, "task_s": 0.0, "executor_cpu_s": 0.0,
               "shuffle_write_bytes": 0, "shuffle_read_bytes": 0, "input_bytes": 0,
               "jobs": 0}  # fmt: skip
        executors: list[float] = []
        for part in _event_files(path):
            with part.open() as fh:
                for line in fh:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # a log cut short by a killed driver
                    _add_event(app, executors, event)
        if app.get("start"):
            if executors:
                app["executors"] = len(executors)
                app["executors_ready_s"] = round((max(executors) - app["start"]) / 1000, 3)
            if app.get("end"):
                app["app_s"] = round((app["end"] - app["start"]) / 1000, 3)
        app["task_s"] = round(app["task_s"], 3)
        app["executor_cpu_s"] = round(app["executor_cpu_s"], 3)
        apps.append(app)
    return apps


def _add_event(app: dict, executors: list[float], event: dict) -> None:
    kind = event.get("Event") or ""
    if kind == "SparkListenerApplicationStart":
        app["name"], app["start"] = event.get("App Name"), event.get("Timestamp")
    elif kind == "SparkListenerApplicationEnd":
        app["end"] = event.get("Timestamp")
    elif kind == "SparkListenerExecutorAdded":
        executors.append(event.get("Timestamp") or 0)
    elif kind == "SparkListenerJobStart":
        app["jobs"] += 1
    elif kind.endswith("SparkListenerSQLExecutionStart") and event.get("executionId") == 0:
        app["first_sql_at"] = event.get("time")
    elif kind.endswith("SparkListenerSQLExecutionEnd") and event.get("executionId") == 0:
        # the domain's first statement (`create database` of source registration) starts the
        # embedded Hive metastore: Derby creates its schema in the fresh data dir
        if app.get("first_sql_at") and event.get("time"):
            app["first_sql_s"] = round((event["time"] - app.pop("first_sql_at")) / 1000, 3)
    elif kind == "SparkListenerTaskEnd":
        _add_task(app, event.get("Task Metrics") or {})


def _add_task(app: dict, metrics: dict) -> None:
    app["tasks"] += 1
    app["task_s"] += (metrics.get("Executor Run Time") or 0) / 1000
    app["executor_cpu_s"] += (metrics.get("Executor CPU Time") or 0) / 1e9
    read = metrics.get("Shuffle Read Metrics") or {}
    app["shuffle_read_bytes"] += (read.get("Remote Bytes Read") or 0) + (
        read.get("Local Bytes Read") or 0
    )
    app["shuffle_write_bytes"] += (metrics.get("Shuffle Write Metrics") or {}).get(
        "Shuffle Bytes Written"
    ) or 0
    app["input_bytes"] += (metrics.get("Input Metrics") or {}).get("Bytes Read") or 0


# --- one build ---------------------------------------------------------------------------------


class Engines:
    """The state of one benchmark run: configuration, every record, where to write."""

    def __init__(self, args: argparse.Namespace, work: Path, env: dict[str, str]):
        self.args, self.work, self.env = args, work, env
        self.domains: list[str] = []  # measured, in mesh order
        self.upstream: list[str] = []  # built once per scale on DuckDB, untimed
        self.records: list[dict] = []
        self.prep: dict[str, dict] = {}
        self.data: dict[str, dict] = {}
        self.leftover_pids: list[int] = []

    def _bench(self, source: Path, domains: list[str]) -> Bench:
        return Bench(work=self.work, source=source, env=self.env, domains=domains,
                     keep=self.args.keep, timeout=self.args.timeout)  # fmt: skip

    def build(self, bench: Bench, scale: float, rep: int, engine: str, cores: int,
              cpus: list[int] | None, ports_from: Path | None) -> dict:  # fmt: skip
        """One measured ``mesh materialize`` on ``engine``: its record."""
        name = f"s{scale:g}-r{rep}-{engine}-{cores}c"
        data_dir = fresh_dir(bench, name, ports_from=ports_from)
        env = {**self.env, "MESH_DATA_DIR": str(data_dir), "MESH_ENGINE": engine}
        cmd = pinned_cmd([*mesh_cmd(), *bench.domains], cpus)
        record = {"scale": scale, "rep": rep, "engine": engine, "cores": cores,
                  "cpus": cpus, "data_dir": str(data_dir)}  # fmt: skip
        print(f"  [scale {scale:g} rep {rep}] {engine} on {cores} core(s) …", end=" ", flush=True)
        if engine == "duckdb":
            since = time.time()
            sample = self._measure(name, rep, cmd, env)
        else:
            since, sample = self._spark(name, rep, cmd, env, cores, cpus, record)
        record |= sample.to_json()
        if sample.ok:
            runs = _breakdown(bench, data_dir, since)["runs"]
            record["breakdown"] = per_domain(runs, bench.domains)
        status = "ok" if sample.ok else f"FAILED (exit {sample.returncode}, see {sample.log})"
        start = record.get("cluster_start_s")
        extra = f", cluster start {start:.1f}s" if start is not None else ""
        print(f"{sample.wall_s:.1f}s, {sample.peak_rss_mib:.0f} MiB peak{extra} — {status}",
              flush=True)  # fmt: skip
        self.records.append(record)
        if not self.args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        return record

    def _measure(self, name: str, rep: int, cmd: list[str], env: dict[str, str],
                 also_sessions: set[int] | None = None) -> Sample:  # fmt: skip
        log = self.work / "logs" / f"{name}.log"
        return run_measured(name, rep, cmd, env=env, cwd=REPO, log=log,
                            timeout=self.args.timeout, also_sessions=also_sessions)  # fmt: skip

    def _spark(self, name, rep, cmd, env, cores, cpus, record) -> tuple[float, Sample]:
        """Start a cluster (timed, pinned like the build), build against it, stop it by pid."""
        from mesh_platform.core.environment import MeshEnvironment
        from mesh_platform.production.processes import alive_pids
        from mesh_platform.production.spark_cluster import SparkCluster

        workers, per_worker = cluster_shape(cores)
        cluster_dir = self.work / f"{name}-cluster"
        cluster = SparkCluster(
            MeshEnvironment(name="local", repo_root=REPO, data_dir=cluster_dir),
            workers=workers,
            cores=per_worker,
            memory=self.args.spark_worker_memory,
        )
        events = self.work / "spark-events" / name
        if not self.args.no_event_log:
            conf = event_log_conf(self.work / "spark-conf" / name, events)
            env = {**env, "SPARK_CONF_DIR": str(conf)}
        record |= {"cluster_workers": workers, "cluster_cores_per_worker": per_worker,
                   "cluster_worker_memory": self.args.spark_worker_memory}  # fmt: skip
        try:
            started = time.perf_counter()
            try:
                with pinned(cpus):
                    cluster.start()
            except Exception as exc:  # no cluster: a failed build, the benchmark goes on
                record["error"] = f"the Spark cluster did not start: {type(exc).__name__}: {exc}"
                log = self.work / "logs" / f"{name}-cluster.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(record["error"] + "\n")
                return time.time(), Sample(name, rep, 0.0, 0.0, 0.0, -1, str(log))
            record["cluster_start_s"] = round(time.perf_counter() - started, 3)
            sessions = {service.pid for service in cluster.services}
            env = {**env, "MESH_SPARK_MASTER": cluster.master_url}
            cpu_before = sessions_cpu_seconds(sessions)
            since = time.time()
            sample = self._measure(name, rep, cmd, env, also_sessions=sessions)
            _settle(sessions)  # executors of finished applications exit and are reaped
            record["cluster_cpu_s"] = round(sessions_cpu_seconds(sessions) - cpu_before, 3)
            with contextlib.suppress(OSError, ValueError):  # the master's view: a diagnostic
                status = cluster.status()
                record["cluster_apps"] = [
                    {"name": a.get("name"), "duration_s": round((a.get("duration") or 0) / 1000, 3)}
                    for a in status.get("completedapps", []) + status.get("activeapps", [])
                ]
        finally:
            pids = cluster.pids()
            cluster.stop()
            if left := alive_pids(pids):
                self.leftover_pids += sorted(left)
                print(f"\n  WARNING: Spark processes still alive after stop: {sorted(left)}")
            if not self.args.keep and "error" not in record:  # its logs say why it failed
                shutil.rmtree(cluster_dir, ignore_errors=True)
        if events.is_dir():
            try:
                record["spark_apps"] = spark_apps(events)
            except (OSError, ValueError, KeyError) as exc:  # a diagnostic: never fails the run
                record["spark_apps_error"] = f"{type(exc).__name__}: {exc}"
        return since, sample

    def prepare_upstream(self, bench: Bench, scale: float, upstream: list[str]) -> Path | None:
        """Build the domains the selected ones read from, once, on DuckDB (untimed)."""
        if not upstream:
            return None
        name = f"s{scale:g}-upstream"
        print(f"  building upstream domains {', '.join(upstream)} on DuckDB (untimed) …",
              flush=True)  # fmt: skip
        data_dir = fresh_dir(bench, name)
        env = {**self.env, "MESH_DATA_DIR": str(data_dir), "MESH_ENGINE": "duckdb"}
        sample = self._measure(name, 0, [*mesh_cmd(), *upstream], env)
        self.prep[f"{scale:g}"] = {"domains": upstream, **sample.to_json()}
        if not sample.ok:
            sys.exit(f"the upstream build failed; see {sample.log}")
        return data_dir / "ports"


def _settle(sessions: set[int], timeout: float = 30.0) -> None:
    """Wait until only the cluster's daemons are left in its sessions (no executor)."""
    deadline = time.monotonic() + timeout
    while session_members(sessions) - sessions and time.monotonic() < deadline:
        time.sleep(0.2)


# --- the run -------------------------------------------------------------------------------------


def domains_in_order(wanted: list[str]) -> tuple[list[str], list[str]]:
    """(the wanted domains in mesh order, the domains they read from that are not wanted)."""
    from mesh_platform.core.domain import load_all_domains
    from mesh_platform.run.runner import domain_order, domain_upstreams

    every = domain_order(load_all_domains(REPO / "domains"))
    names = [d.name for d in every]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        sys.exit(f"--domains: unknown {unknown}; known: {names}")
    selected = [n for n in names if not wanted or n in wanted]
    upstream = domain_upstreams(every)
    needed: set[str] = set()
    stack = list(selected)
    while stack:
        for producer in upstream[stack.pop()]:
            if producer not in needed:
                needed.add(producer)
                stack.append(producer)
    return selected, [n for n in names if n in needed - set(selected)]


def git_state() -> dict:
    def git(*args: str) -> str:
        out = subprocess.run([GIT, *args], cwd=REPO, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(records: list[dict]) -> dict:
    """Per scale and variant (engine, cores): medians of every figure over repetitions."""
    from bench.report import summarize as stats

    out: dict[str, dict] = {}
    for r in records:
        key = f"{r['engine']}:{r['cores']}"
        out.setdefault(f"{r['scale']:g}", {}).setdefault(key, []).append(r)
    summary: dict[str, dict] = {}
    for scale, variants in out.items():
        for key, rows in variants.items():
            ok = [r for r in rows if r["ok"]]
            row = {
                "engine": rows[0]["engine"],
                "cores": rows[0]["cores"],
                "failed": len(rows) - len(ok),
                "runs": len(rows),
            }
            for k in ("wall_s", "cpu_s", "peak_rss_mib", "cluster_start_s", "cluster_cpu_s",
                      "also_peak_rss_mib", "combined_peak_rss_mib"):  # fmt: skip
                values = [r[k] for r in ok if r.get(k) is not None]
                if values:
                    row[k] = stats(values)
            apps = [_app_totals(r["spark_apps"]) for r in ok if r.get("spark_apps")]
            if apps:
                row["spark"] = {k: _median([a[k] for a in apps]) for k in apps[0]}
            row["phases"] = _phase_medians(ok)
            summary.setdefault(scale, {})[key] = row
    return summary


def _app_totals(apps: list[dict]) -> dict:
    keys = ("tasks", "task_s", "executor_cpu_s", "shuffle_write_bytes", "shuffle_read_bytes",
            "input_bytes", "jobs")  # fmt: skip
    out = {k: sum(a.get(k, 0) for a in apps) for k in keys}
    for key in ("executors_ready_s", "first_sql_s"):
        out[key] = round(sum(a.get(key, 0.0) for a in apps), 3)
    return out


def _phase_medians(records: list[dict]) -> dict[str, dict]:
    """Per domain (and Σ over domains), each phase's median over repetitions."""
    per: dict[str, dict[str, list[float]]] = {}
    for r in records:
        sums: dict[str, float] = {}
        for domain, phases in (r.get("breakdown") or {}).items():
            for k, v in phases.items():
                if isinstance(v, int | float):
                    per.setdefault(domain, {}).setdefault(k, []).append(v)
                    sums[k] = sums.get(k, 0.0) + v
        for k, v in sums.items():
            per.setdefault("Σ", {}).setdefault(k, []).append(v)
    return {d: {k: _median(v) for k, v in phases.items()} for d, phases in per.items()}


def model_input(summary: dict, data: dict) -> dict:
    """What ``engine_model.model`` fits, from the per-scale summaries."""
    walls: dict[str, dict[int, dict[float, float]]] = {}
    spark_phases: dict[str, list[tuple[float, float]]] = {}
    shuffle, rss, spark_fixed = [], [], []
    for scale, variants in summary.items():
        rows = data[scale]["rows"]
        top = max(v["cores"] for v in variants.values())
        for v in variants.values():
            if "wall_s" not in v:
                continue
            walls.setdefault(v["engine"], {}).setdefault(v["cores"], {})[rows] = v["wall_s"][
                "median"
            ]
            if v["cores"] != top:
                continue
            if v["engine"] == "spark":
                total = v["phases"].get("Σ", {})
                fixed = [
                    total.get(k) for k in ("spark_session_s", "spark_parse_s", "spark_register_s")
                ]
                if all(x is not None for x in fixed):
                    start = (v.get("cluster_start_s") or {}).get("median")
                    spark_fixed.append({"scale": float(scale), "session_parse_registration_s":
                                        round(sum(fixed), 3), "cluster_start_s": start})  # fmt: skip
                for k in ("dbt_exec_s", "step_s"):
                    if (value := v["phases"].get("Σ", {}).get(k)) is not None:
                        spark_phases.setdefault(k, []).append((rows, value))
                if v.get("spark"):
                    shuffle.append((rows, v["spark"]["shuffle_write_bytes"]))
            elif "peak_rss_mib" in v:
                rss.append((rows, v["peak_rss_mib"]["median"]))
    scales = sorted(float(s) for s in data)
    per_scale = statistics.fmean(data[f"{s:g}"]["rows"] / s for s in scales) if scales else 0
    return {
        "walls": walls,
        "spark_phases": spark_phases,
        "shuffle": shuffle,
        "duckdb_rss": rss,
        "spark_fixed_phases": spark_fixed,
        "rows_per_scale": per_scale,
        "max_rows": max((d["rows"] for d in data.values()), default=0),
    }


def result_doc(engines: Engines, machine: dict, started: float, progress: str = "") -> dict:
    """The result document of the builds measured so far (``progress`` names where a partial
    one stopped; empty when complete)."""
    args = engines.args
    summary = summarize(engines.records)
    params = engine_model.Params(
        cores=tuple(args.model_cores),
        machines=tuple(args.model_machines),
        network_gbps=args.network_gbps,
        ram_gib_per_core=args.ram_gib_per_core,
    )
    return {
        "config": {
            "scales": args.scales,
            "domains": engines.domains,
            "upstream_built_on_duckdb": engines.upstream,
            "cores": args.cores,
            "repeat": args.repeat,
            "partial": progress,
            "seed": args.seed,
            "work": str(engines.work),
            "pycache": None if args.no_pycache else str(args.pycache),
            "duckdb_memory_limit": engines.env.get("MESH_DUCKDB_MEMORY_LIMIT")
            or "MESH_MEMORY_BUDGET share",
            "spark_worker_memory": args.spark_worker_memory,
            "spark_event_log": not args.no_event_log,
            "note": args.note,
            "seconds": round(time.time() - started, 1),
        },
        "machine": machine,
        "data": engines.data,
        "upstream_prep": engines.prep,
        "summary": summary,
        "model": engine_model.model(model_input(summary, engines.data), params),
        "leftover_spark_pids": engines.leftover_pids,
        "records": engines.records,
    }


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    from bench import report

    usable = len(os.sched_getaffinity(0))
    args.cores = args.cores or [usable]
    cpus = cpu_sets(args.cores)
    work = (args.work or Path(tempfile.mkdtemp(prefix="mesh-bench-engines-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = _base_env(args)
    env.pop("SPARK_CONF_DIR", None)  # the platform's, or the bench's event-log folder
    machine = {**report.machine(), "git": git_state()}
    wanted = [d.strip() for d in args.domains.split(",") if d.strip()]
    domains, upstream = domains_in_order(wanted)
    engines = Engines(args, work, env)
    engines.domains, engines.upstream = domains, upstream
    print(f"mesh on DuckDB vs Spark: scales {args.scales}, domains {domains}, cores {args.cores}, "
          f"{args.repeat} repetition(s), work dir {work}", flush=True)  # fmt: skip
    started = time.time()
    if not args.no_pycache:
        print(f"warming the bytecode cache {args.pycache} (untimed) …", flush=True)
        _warm_pycache(env)
    prepare = run_measured("prepare", 0, [PY, "-m", "mesh_platform.cli", "prepare"], env=env,
                           cwd=REPO, log=work / "logs" / "prepare.log")  # fmt: skip
    if not prepare.ok:
        sys.exit(f"mesh prepare failed; see {prepare.log}")
    for scale in args.scales:
        print(f"scale {scale:g}: generating Daff's sources (untimed) …", flush=True)
        source = _generate(work / f"scale-{scale:g}", scale, args.seed, env)
        meta = json.loads((source / "manifest.json").read_text())
        engines.data[f"{scale:g}"] = {
            "rows": sum(meta["counts"].values()),
            "play_events": meta["counts"]["play_events"],
            "days": meta["days"],
            "counts": meta["counts"],
        }
        bench = engines._bench(source, domains)
        ports_from = engines.prepare_upstream(bench, scale, upstream)
        for rep in range(1, args.repeat + 1):
            for cores in args.cores:
                for engine in ENGINES:
                    engines.build(bench, scale, rep, engine, cores, cpus[cores], ports_from)
            # a long run cut short keeps what it measured, marked as partial
            progress = f"done up to scale {scale:g}, repetition {rep} of {args.repeat}"
            engines_report.write(result_doc(engines, machine, started, progress), args.out,
                                 args.name)  # fmt: skip
        if not args.keep:
            shutil.rmtree(work / f"scale-{scale:g}", ignore_errors=True)
            shutil.rmtree(work / f"s{scale:g}-upstream", ignore_errors=True)
    result = result_doc(engines, machine, started)
    json_path, md_path = engines_report.write(result, args.out, args.name)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    failed = [r for r in engines.records if not r["ok"]]
    if failed:
        print(f"{len(failed)} build(s) failed: logs in {work / 'logs'}")
    elif not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed or engines.leftover_pids else 0)


if __name__ == "__main__":
    main()

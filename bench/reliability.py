"""Crash and concurrency trials of the mesh, with figures to quote.

``python -m bench.reliability [--trials 20] [--seed 7] [--scale 0.02] [--domain podcasts]``
generates a small Daff in a temporary data directory, builds it once (the clean run), then:

1. **Kill trials** — ``mesh materialize <domain>`` is SIGKILLed ``--trials`` times: at each
   named failpoint (``MESH_FAILPOINT``: during the build, after dbt, before/after each publishing
   step, after the governance record) and at seeded random moments (the whole process group,
   dbt included, like a machine losing power). Throughout, a reader process leases each port's
   current snapshot and checks it is complete: its rows and content checksum match its JSON.
   After each kill a rerun must succeed, publish the clean run's checksums and leave no
   temporary or orphan files.
2. **Analysts during a build** — threads query every published port continuously (guarded
   ``mesh_platform.connect(user=...)``, trusted ``consume.connect()``, the read-only views file)
   while ``materialize_mesh()`` rebuilds every domain; every query and error is counted.

Results go to ``bench/results/reliability.md`` (and ``.json``). The slow tests in
``tests/integration/test_reliability.py`` run the same code with fewer trials.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mesh_platform.core.failpoints import BUILD_POINTS, PUBLISH_POINTS

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

# every point a process can die at (see mesh_platform/core/failpoints.py); ":2" = the second time
FAILPOINTS = [
    *BUILD_POINTS,
    *PUBLISH_POINTS,
    "publish.governance_recorded",
    "publish.start:2",
    "publish.committed:2",
]


# --- what readers see ------------------------------------------------------------------------


def port_state(ports_dir: Path) -> dict[str, dict]:
    """Per published port: checksum, rows and the sha256 of the current snapshot's bytes
    (of each of its files, by name, for a snapshot published per day)."""
    from mesh_platform.ports.store import list_published

    state = {}
    for published in list_published(ports_dir):
        digest = hashlib.sha256()
        for file in sorted(Path(f) for f in published.files):  # by day folder and name
            day = file.parent.name if "=" in file.parent.name else ""
            digest.update(day.encode() + b"\0" + file.read_bytes())
        state[f"{published.address} v{published.version}"] = {
            "checksum": published.checksum,
            "rows": published.rows,
            "sha256": digest.hexdigest(),
        }
    return state


def check_ports_once(ports_dir: Path, con) -> tuple[int, list[str]]:
    """Lease each port's current snapshot and check its files against its summary;
    (checks, problems)."""
    from mesh_platform.ports.checksums import content_checksum
    from mesh_platform.ports.retention import lease_current
    from mesh_platform.ports.store import list_published

    checks, problems = 0, []
    for published in list_published(ports_dir):
        domain, port = published.address.split(".", 1)
        checks += 1
        try:
            lease = lease_current(ports_dir, domain, port, published.version)
            if lease is None:
                problems.append(f"{domain}.{port}: no current snapshot to lease")
                continue
            try:
                actual = content_checksum(con, [Path(f) for f in lease.files])
                if actual != lease.published.checksum:
                    problems.append(
                        f"{domain}.{port}: snapshot {lease.published.snapshot_id} has "
                        f"{actual}, its summary says {lease.published.checksum}"
                    )
            finally:
                lease.release()
        except Exception as exc:  # noqa: BLE001 - every failure of a reader is a finding
            problems.append(f"{domain}.{port}: {type(exc).__name__}: {exc}")
    return checks, problems


def reader_main(ports_dir: str, stop_file: str, out_file: str) -> None:
    """A separate reader process: check every port until ``stop_file`` exists."""
    import duckdb

    from mesh_platform.ports.reader import connect, release

    ports, stop = Path(ports_dir), Path(stop_file)
    con = duckdb.connect()
    checks, queries, problems = 0, 0, []
    while not stop.exists():
        n, found = check_ports_once(ports, con)
        checks += n
        problems += found
        try:
            trusted = connect(ports)
            for schema, name in trusted.execute(
                "select schema_name, view_name from duckdb_views() where not internal"
            ).fetchall():
                trusted.execute(f'select count(*) from "{schema}"."{name}"').fetchone()
                queries += 1
            release(trusted)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"consume.connect: {type(exc).__name__}: {exc}")
        time.sleep(0.05)
    Path(out_file).write_text(
        json.dumps(
            {
                "checks": checks,
                "queries": queries,
                "problems": problems[:50],
                "problem_count": len(problems),
            }
        )
    )


class ReaderProcess:
    def __init__(self, ports_dir: Path, workdir: Path) -> None:
        self.stop_file = workdir / "reader.stop"
        self.out_file = workdir / "reader.json"
        self.stop_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.reliability",
                "reader",
                str(ports_dir),
                str(self.stop_file),
                str(self.out_file),
            ],
            cwd=REPO,
        )

    def stop(self) -> dict:
        self.stop_file.touch()
        self.proc.wait(timeout=120)
        return json.loads(self.out_file.read_text())


# --- kill trials -----------------------------------------------------------------------------


@dataclass
class Trial:
    number: int
    kill: str  # a failpoint name or "random@<seconds>s"
    outcome: str  # killed / not reached
    seconds_to_kill: float
    consistent_after_kill: bool
    rerun_ok: bool = False
    converged: bool = False  # rerun's checksums == the clean run's
    byte_identical: bool = False  # and the files' bytes too
    leftovers: list[str] = field(default_factory=list)
    rerun_seconds: float = 0.0


def mesh_materialize(domain: str, env: dict[str, str], failpoint: str | None = None):
    child_env = {k: v for k, v in env.items() if k != "MESH_FAILPOINT"}
    if failpoint:
        child_env["MESH_FAILPOINT"] = failpoint
    return subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "mesh"), "materialize", domain],
        env=child_env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a random kill takes dbt with it
    )


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def leftovers(ports_dir: Path, domain: str) -> list[str]:
    found = []
    for version in (ports_dir / domain).glob("*/v*"):
        snaps = version / "snapshots"
        found += [str(p) for p in snaps.glob(".*")] + [str(p) for p in version.glob(".current*")]
        found += [str(j) for j in snaps.glob("*.json") if not j.with_suffix(".parquet").exists()]
        found += [str(p) for p in snaps.glob("*.parquet") if not p.with_suffix(".json").exists()]
    return found


def kill_schedule(trials: int, seed: int, clean_seconds: float) -> list[str]:
    """Every failpoint once (in order, cycling if trials > points) then seeded random kills:
    at least a third of the trials are random-time kills."""
    rng = random.Random(seed)
    random_kills = max(1, trials // 3)
    points = [FAILPOINTS[i % len(FAILPOINTS)] for i in range(trials - random_kills)]
    kills = [f"random@{rng.uniform(1.0, clean_seconds):.1f}s" for _ in range(random_kills)]
    return points + kills


def run_kill_trials(
    env: dict[str, str],
    domain: str,
    kills: list[str],
    clean: dict[str, dict],
    log=print,
    on_trial=lambda trials: None,
) -> list[Trial]:
    ports_dir = Path(env["MESH_DATA_DIR"]) / "ports"
    con = _duckdb()
    results = []
    for number, kill in enumerate(kills, 1):
        started = time.monotonic()
        if kill.startswith("random@"):
            proc = mesh_materialize(domain, env)
            try:
                proc.wait(timeout=float(kill[7:-1]))
                outcome = f"finished before the kill (rc {proc.returncode})"
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                outcome = "killed"
        else:
            proc = mesh_materialize(domain, env, failpoint=kill)
            proc.wait(timeout=900)
            _kill_group(proc)  # nothing should be left, but never let a child linger
            outcome = (
                "killed"
                if proc.returncode == -signal.SIGKILL
                else (f"failpoint not reached (rc {proc.returncode})")
            )
        seconds = time.monotonic() - started
        _, problems = check_ports_once(ports_dir, con)
        trial = Trial(number, kill, outcome, round(seconds, 1), consistent_after_kill=not problems)
        started = time.monotonic()
        rerun = mesh_materialize(domain, env)
        _, err = rerun.communicate(timeout=900)
        trial.rerun_seconds = round(time.monotonic() - started, 1)
        trial.rerun_ok = rerun.returncode == 0
        state = {k: v for k, v in port_state(ports_dir).items() if k.startswith(f"{domain}.")}
        trial.converged = trial.rerun_ok and {k: v["checksum"] for k, v in state.items()} == {
            k: v["checksum"] for k, v in clean.items()
        }
        trial.byte_identical = trial.converged and all(
            state[k]["sha256"] == clean[k]["sha256"] for k in clean
        )
        trial.leftovers = leftovers(ports_dir, domain)
        if not trial.rerun_ok:
            log(f"rerun after {kill} failed:\n{err[-3000:]}")
        log(f"trial {number}: {asdict(trial)}")
        results.append(trial)
        on_trial(results)
    return results


def _duckdb():
    import duckdb

    return duckdb.connect()


# --- analysts during a build -----------------------------------------------------------------


@dataclass
class QueryTally:
    queries: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, channel: str) -> None:
        with self.lock:
            self.queries[channel] += 1

    def error(self, channel: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{channel}: {type(exc).__name__}: {exc}")


def _guarded_reader(tally: QueryTally, stop: threading.Event, user: str) -> None:
    import mesh_platform

    while not stop.is_set():
        try:
            with mesh_platform.connect(user=user) as con:
                for label in con.tables():
                    address = label.split(" ")[0]
                    con.fetchall(f"select count(*) from {address}")
                    tally.ok(f"connect(user={user})")
        except Exception as exc:  # noqa: BLE001 - counted, and the test asserts none
            tally.error(f"connect(user={user})", exc)
            traceback.print_exc()
        stop.wait(0.05)


def _count_every_view(con, tally: QueryTally, channel: str) -> None:
    """``count(*)`` of every port view on a DuckDB connection, each counted for ``channel``."""
    views = con.execute(
        "select schema_name, view_name from duckdb_views() where not internal"
    ).fetchall()
    for schema, name in views:
        con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()
        tally.ok(channel)


def _trusted_reader(tally: QueryTally, stop: threading.Event) -> None:
    from mesh_platform.ports.reader import connect, release

    while not stop.is_set():
        try:
            con = connect()
            _count_every_view(con, tally, "consume.connect")
            release(con)
        except Exception as exc:  # noqa: BLE001
            tally.error("consume.connect", exc)
        stop.wait(0.05)


def _views_file_reader(tally: QueryTally, stop: threading.Event) -> None:
    import duckdb

    from mesh_platform.core.environment import get_environment
    from mesh_platform.ports.views_file import views_file_path

    path = views_file_path(get_environment().ports_dir)
    while not stop.is_set():
        if not path.exists():
            stop.wait(0.2)
            continue
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                _count_every_view(con, tally, "views file")
            finally:
                con.close()
        except Exception as exc:  # noqa: BLE001
            tally.error("views file", exc)
        stop.wait(0.05)


class Analysts:
    """Reader threads querying the published ports until stopped."""

    def __init__(self, users: tuple[str, ...] = ("alice", "pablo")) -> None:
        self.tally = QueryTally()
        self.stop_event = threading.Event()
        targets = [(_guarded_reader, (u,)) for u in users]
        targets += [(_trusted_reader, ()), (_views_file_reader, ())]
        self.threads = [
            threading.Thread(target=t, args=(self.tally, self.stop_event, *a), daemon=True)
            for t, a in targets
        ]

    def __enter__(self) -> QueryTally:
        for thread in self.threads:
            thread.start()
        return self.tally

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=120)


# --- step intervals from the Dagster instance ---------------------------------------------------


DBT_STEP = re.compile(r"^(?P<domain>[a-z][a-z0-9_]*?)_dbt(_daily)?(_after_rejects)?$")


def step_domain(step_key: str) -> str | None:
    """The domain of a dbt step (``<domain>_dbt``, ``_dbt_daily``, ``…_after_rejects``)."""
    match = DBT_STEP.match(step_key or "")
    return match["domain"] if match else None


def dbt_step_intervals(instance, run_ids: list[str]) -> list[tuple[str, str, float, float]]:
    """(run id, step key, first start, end) of every dbt step of ``run_ids``."""
    intervals = []
    for run_id in run_ids:
        starts, ends = {}, {}
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or step_domain(event.step_key) is None:
                continue
            if event.event_type_value == "STEP_START":
                starts.setdefault(event.step_key, record.timestamp)
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                ends[event.step_key] = record.timestamp
        intervals += [(run_id, k, starts[k], ends[k]) for k in starts if k in ends]
    return intervals


def overlaps(a: tuple, b: tuple) -> bool:
    return a[2] < b[3] and b[2] < a[3]


# --- the benchmark -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--trials", type=int, default=20)
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--scale", type=float, default=0.02)
    args.add_argument("--domain", default="podcasts")
    args.add_argument("--skip-analysts", action="store_true")
    opts = args.parse_args(argv)

    from bench import DATA_END
    from mesh_platform.core.environment import apply_tool_env
    from operational import generate

    data_dir = Path(tempfile.mkdtemp(prefix="mesh-reliability-"))
    os.environ["MESH_DATA_DIR"] = str(data_dir)
    env_obj = apply_tool_env()
    generate(env_obj.operational_dir, scale=opts.scale, end=DATA_END)
    env = dict(os.environ)
    report: dict = {"scale": opts.scale, "seed": opts.seed, "domain": opts.domain}

    started = time.monotonic()
    clean_proc = mesh_materialize(opts.domain, env)
    _, err = clean_proc.communicate()
    assert clean_proc.returncode == 0, err[-3000:]
    clean_seconds = time.monotonic() - started
    clean = port_state(env_obj.ports_dir)
    report["clean_run_seconds"] = round(clean_seconds, 1)
    report["clean"] = clean

    reader = ReaderProcess(env_obj.ports_dir, data_dir)
    kills = kill_schedule(opts.trials, opts.seed, clean_seconds)
    report["reader"] = {"checks": "…", "queries": "…", "problem_count": "(running)"}

    def progress(done: list[Trial]) -> None:
        report["trials"] = [asdict(t) for t in done]
        write_report(report)

    trials = run_kill_trials(env, opts.domain, kills, clean, on_trial=progress)
    report["reader"] = reader.stop()
    report["trials"] = [asdict(t) for t in trials]
    write_report(report)

    if not opts.skip_analysts:
        from mesh_platform.build.instance import get_instance
        from mesh_platform.run.runner import materialize_mesh

        materialize_mesh()  # every domain published once, so analysts have ports to read
        started = time.monotonic()
        with Analysts() as tally:
            runs = materialize_mesh()
        report["analysts"] = {
            "build_seconds": round(time.monotonic() - started, 1),
            "domains_succeeded": sum(r.success for r in runs),
            "domains": len(runs),
            "queries": dict(tally.queries),
            "errors": tally.errors[:20],
            "error_count": len(tally.errors),
        }
        get_instance()
    write_report(report)
    return 0


def write_report(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reliability.json").write_text(json.dumps(report, indent=2, default=str))
    trials = report["trials"]
    killed = sum(t["outcome"] == "killed" for t in trials)
    lines = [
        "# Reliability: kill trials and analysts during builds",
        "",
        f"Generated by `python -m bench.reliability` (scale {report['scale']}, seed "
        f"{report['seed']}, domain `{report['domain']}`; clean run "
        f"{report['clean_run_seconds']} s).",
        "",
        "## Kill trials (SIGKILL of `mesh materialize`)",
        "",
        f"- trials: **{len(trials)}**, killed: **{killed}**, "
        f"consistent right after the kill: **{sum(t['consistent_after_kill'] for t in trials)}**, "
        f"rerun succeeded: **{sum(t['rerun_ok'] for t in trials)}**, converged on the clean "
        f"run's checksums: **{sum(t['converged'] for t in trials)}**, byte-identical files: "
        f"**{sum(t['byte_identical'] for t in trials)}**, trials with leftover files after the "
        f"rerun: **{sum(bool(t['leftovers']) for t in trials)}**",
        f"- reader process during the trials: {report['reader']['checks']} snapshot checks "
        f"(rows + content checksum vs. JSON) and {report['reader']['queries']} queries, "
        f"**{report['reader']['problem_count']} torn/mixed/missing**",
        "",
        "| # | kill point | outcome | s to kill | consistent | rerun | converged | bytes equal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in trials:
        lines.append(
            f"| {t['number']} | `{t['kill']}` | {t['outcome']} | {t['seconds_to_kill']} | "
            f"{t['consistent_after_kill']} | {t['rerun_ok']} ({t['rerun_seconds']} s) | "
            f"{t['converged']} | {t['byte_identical']} |"
        )
    lines += [
        "",
        "Each trial SIGKILLs the process (failpoints: the process kills itself at the named "
        "point; `random@`: the test kills its whole process group, dbt included), checks what "
        "readers see, reruns, and compares the rerun's content checksums (and file bytes) with "
        "the clean run's. The checksum (`<rows>:<128-bit sum of DuckDB hash(row)>`, in each "
        "snapshot's JSON) ignores row order: on the biggest port (playback.play_events, 50k rows) "
        "it costs ~35 ms against ~180 ms for writing the snapshot (sort-then-md5: ~90 ms; "
        "bit_xor of hashes: ~23 ms but duplicate rows cancel out).",
    ]
    lines += ["", "Clean run's ports:", ""]
    lines += [
        f"- `{k}`: {v['rows']} rows, checksum `{v['checksum']}`" for k, v in report["clean"].items()
    ]
    if "analysts" in report:
        a = report["analysts"]
        lines += [
            "",
            "## Analysts querying while every domain builds",
            "",
            *([a["source"], ""] if a.get("source") else []),
            f"- build of all domains: {a['build_seconds']} s, {a['domains_succeeded']}/"
            f"{a['domains']} domains succeeded",
            f"- queries: {sum(a['queries'].values())} "
            f"({', '.join(f'{k}: {v}' for k, v in a['queries'].items())})",
            f"- errors: **{a['error_count']}**",
        ]
    (RESULTS / "reliability.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["reader"]:
        reader_main(*sys.argv[2:5])
    else:
        sys.exit(main(sys.argv[1:]))

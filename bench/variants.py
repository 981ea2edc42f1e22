"""The measured variants: working directories, commands, and one repetition of each.

One repetition runs, in this order (each depends on the one before):

1. ``mesh_full``: ``mesh materialize`` in a fresh data dir (operational data hard-linked from
   the shared generated copy); then, untimed, the event-log breakdown, the Soda/publish
   timings, and a copy of the published ports for the peers;
2. ``mesh_increment``: one day appended to that dir's sources, then what the mesh's automation
   runs for it (``mesh materialize --day``; ``bench.increment_run`` reports on it, untimed);
3. ``mesh_full_warm``: ``mesh materialize`` again in the same dir: a full rebuild of the same
   91 days, with dbt's partial-parse caches and the Dagster instance warm (skipped with
   ``--no-warm-rebuild``);
4. ``dbt_build``: plain dbt, per domain, in a fresh dir with the ports of step 1;
5. ``raw_duckdb``: the run SQL dbt wrote in step 4, executed by DuckDB in a fresh dir;
6. ``dbt_monolith``: every domain's models in one generated dbt project (cross-domain reads as
   ``ref``), one ``dbt build --threads 2``, in a fresh dir (``bench.peer_monolith``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import Sample, run_measured

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
# Files a variant may rewrite are copied; everything else is hard-linked (same page cache).
COPIED_SUFFIXES = (".json", ".sqlite")
# The peers measured beside the mesh: (2a) plain dbt per domain, (1) raw DuckDB over the SQL dbt
# compiled (it needs (2a)'s compiled targets), (2b) the monolith project.
PEERS = ("dbt", "raw", "monolith")


@dataclass
class Bench:
    work: Path
    source: Path  # generated operational data, shared
    env: dict[str, str]  # base environment of every measured process
    domains: list[str]  # mesh order, upstream first
    keep: bool = False
    timeout: float | None = None
    warm_rebuild: bool = True  # variant (4'): at scale 50 it costs 10 min per repetition
    peers: tuple[str, ...] = PEERS  # which peers to measure beside the mesh
    samples: list[Sample] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # breakdowns, soda, consistency per rep

    def record(self, key: str, rep: int, value) -> None:
        self.extra.setdefault(key, {})[str(rep)] = value


def _link_or_copy(src: str, dst: str) -> None:
    if src.endswith(COPIED_SUFFIXES):
        shutil.copy2(src, dst)
    else:
        os.link(src, dst)


def fresh_dir(bench: Bench, name: str, ports_from: Path | None = None) -> Path:
    """A new data dir with the generated operational data (and optionally upstream ports)."""
    path = bench.work / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    shutil.copytree(bench.source, path / "operational", copy_function=_link_or_copy)
    if ports_from:
        shutil.copytree(ports_from, path / "ports", symlinks=True)
    return path


def export_current_ports(ports_dir: Path, target: Path) -> None:
    """The current snapshot of every published port as the peers read it, at
    ``<target>/<domain>/<port>/v<N>/current.parquet/`` — a folder of hard links to the
    snapshot's data files: what a mesh step pins for its dbt sources (ports/pinned.py)."""
    from mesh_platform.ports.pinned import link_snapshot
    from mesh_platform.ports.store import list_published

    for published in list_published(ports_dir):
        files = [Path(f) for f in published.files]
        link_snapshot(target, published.address, published.version, files, _link_or_copy)


def manifest_stamp() -> tuple[int, ...]:
    """When each domain's manifest was last written (a variant must not re-parse any)."""
    paths = sorted((REPO / "dbt_project").glob("*/target/manifest.json"))
    return tuple(path.stat().st_mtime_ns for path in paths)


def measure(bench: Bench, variant: str, rep: int, cmd: list[str], data_dir: Path) -> Sample:
    stamp = manifest_stamp()
    env = {**bench.env, "MESH_DATA_DIR": str(data_dir)}
    log = bench.work / "logs" / f"r{rep}-{variant}.log"
    print(f"  [rep {rep}] {variant} …", end=" ", flush=True)
    sample = run_measured(variant, rep, cmd, env=env, cwd=REPO, log=log, timeout=bench.timeout)
    if manifest_stamp() != stamp:
        sample.note = "the shared dbt manifest was re-parsed during this run (dbt_project changed)"
    status = "ok" if sample.ok else f"FAILED (exit {sample.returncode}, see {log})"
    print(f"{sample.wall_s:.1f}s, {sample.peak_rss_mib:.0f} MiB peak — {status}", flush=True)
    bench.samples.append(sample)
    return sample


def _helper(bench: Bench, module: str, args: list[str], data_dir: Path) -> dict:
    """Run an untimed helper module that writes a JSON report; return the report."""
    report = bench.work / "logs" / f"{module.rsplit('.', 1)[-1]}-{time.time_ns()}.json"
    subprocess.run(
        [PY, "-m", module, *args, "--report", str(report)],
        cwd=REPO,
        env={**bench.env, "MESH_DATA_DIR": str(data_dir)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(report.read_text())


def _breakdown(bench: Bench, data_dir: Path, since: float) -> dict:
    return _helper(
        bench, "bench.breakdown", ["--data-dir", str(data_dir), "--since", str(since)], data_dir
    )


def _port_rows(
    data_dir: Path, ports: dict[str, str], database_name: str | None = None
) -> dict[str, int | None]:
    """Rows of each output-port table in a data dir's warehouse files (read-only): the
    domain's own file, or one file for every domain (``database_name``, the monolith's)."""
    import duckdb

    out: dict[str, int | None] = {}
    for address, relation in ports.items():
        domain = database_name or address.split(".")[0]
        database = data_dir / "warehouse" / f"{domain}.duckdb"
        try:
            con = duckdb.connect(str(database), read_only=True)
            try:
                out[address] = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
            finally:
                con.close()
        except Exception:  # a missing file or table is reported as None, not raised
            out[address] = None
    return out


def mesh_cmd() -> list[str]:
    # a full build: incremental consumer models rebuild fully too, whatever changed upstream
    return [PY, "-m", "mesh_platform.cli", "materialize", "--full-refresh"]


def run_rep(bench: Bench, rep: int) -> None:
    from mesh_platform.ports.store import list_published
    from operational.increment import append_day

    mesh_dir = fresh_dir(bench, f"r{rep}-mesh")
    since = time.time()
    full = measure(bench, "mesh_full", rep, mesh_cmd(), mesh_dir)
    ports_copy = bench.work / f"r{rep}-ports"
    published = {p.address: p.rows for p in list_published(mesh_dir / "ports")}
    if full.ok:
        bench.record("breakdown_mesh_full", rep, _breakdown(bench, mesh_dir, since))
        bench.record(
            "soda", rep, _helper(bench, "bench.soda_share", ["--data-dir", str(mesh_dir)], mesh_dir)
        )
    if ports_copy.exists():
        shutil.rmtree(ports_copy)
    export_current_ports(mesh_dir / "ports", ports_copy)

    day = append_day(mesh_dir / "operational")
    since = time.time()
    # what a user runs for a new day; what it ran is reported afterwards, untimed
    inc_cmd = [PY, "-m", "mesh_platform.cli", "materialize", "--day", day.isoformat()]
    if measure(bench, "mesh_increment", rep, inc_cmd, mesh_dir).ok:
        bench.record("breakdown_mesh_increment", rep, _breakdown(bench, mesh_dir, since))
        report = _helper(bench, "bench.increment_run", ["--since", str(since)], mesh_dir)
        # the day's keys against the port's other published days, inside the build
        bench.record("port_uniqueness", rep, report.get("port_uniqueness", []))
    since = time.time()
    if bench.warm_rebuild and measure(bench, "mesh_full_warm", rep, mesh_cmd(), mesh_dir).ok:
        bench.record("breakdown_mesh_full_warm", rep, _breakdown(bench, mesh_dir, since))

    _drop(bench, mesh_dir)  # each variant's data dir goes once counted: ~20 GB at scale 100

    domains = ",".join(bench.domains)
    relations = bench.extra.get("port_relations") or {}
    rows: dict[str, dict[str, int | None]] = {}
    if "dbt" in bench.peers or "raw" in bench.peers:
        dbt_dir = fresh_dir(bench, f"r{rep}-dbt", ports_from=ports_copy)
        dbt_cmd = [PY, "-m", "bench.peer_dbt", "--data-dir", str(dbt_dir), "--domains", domains,
                   "--report", str(bench.work / "logs" / f"r{rep}-dbt.json")]  # fmt: skip
        measure(bench, "dbt_build", rep, dbt_cmd, dbt_dir)
        rows["dbt"] = _port_rows(dbt_dir, relations)
        if "raw" in bench.peers:
            raw_dir = fresh_dir(bench, f"r{rep}-raw", ports_from=ports_copy)
            raw_cmd = [PY, "-m", "bench.raw_duckdb", "--data-dir", str(raw_dir),
                       "--targets", str(dbt_dir / "dbt"), "--sql-root", str(dbt_dir),
                       "--domains", domains,
                       "--report", str(bench.work / "logs" / f"r{rep}-raw.json")]  # fmt: skip
            measure(bench, "raw_duckdb", rep, raw_cmd, raw_dir)
            rows["raw"] = _port_rows(raw_dir, relations)
            _drop(bench, raw_dir)
        _drop(bench, dbt_dir)

    if "monolith" in bench.peers:
        from bench import peer_monolith

        project = bench.work / "monolith-project"
        if not project.exists():  # generated once per bench run, untimed (a team has it already)
            peer_monolith.generate(project, bench.domains)
        mono_dir = fresh_dir(bench, f"r{rep}-monolith")
        mono_cmd = [PY, "-m", "bench.peer_monolith", "--data-dir", str(mono_dir),
                    "--project", str(project), "--threads", "2",
                    "--report", str(bench.work / "logs" / f"r{rep}-monolith.json")]  # fmt: skip
        measure(bench, "dbt_monolith", rep, mono_cmd, mono_dir)
        rows["monolith"] = _port_rows(mono_dir, relations, peer_monolith.NAME)
        _drop(bench, mono_dir)

    bench.record(
        "consistency",
        rep,
        {
            a: {"mesh": published.get(a)} | {peer: rows[peer].get(a) for peer in rows}
            for a in relations
        },
    )
    _drop(bench, ports_copy)


def _drop(bench: Bench, path: Path) -> None:
    """Remove a variant's data dir once measured and counted (unless ``--keep``)."""
    if not bench.keep:
        shutil.rmtree(path, ignore_errors=True)

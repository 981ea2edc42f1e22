"""Run one command as its own OS process and measure what a user pays for it.

Wall time from spawn to exit, CPU time of the whole process tree (user + system of every
descendant reaped), and the peak resident memory of the whole process tree: a sampler thread
reads ``/proc`` every 50 ms and sums the RSS of the process and all its descendants (Dagster
worker processes, the ``dbt`` subprocesses they start, …). psutil is not installed in this
environment, so ``/proc`` is read directly (Linux only).

Summed RSS counts pages shared between processes (shared libraries) once per process, so it
is an upper bound of the tree's real footprint; with ``spawn`` workers little else is shared.

Processes the run uses but did not start (a Spark cluster's JVMs, started by the bench) can be
sampled beside the tree: ``also_sessions`` names their session ids; their peak, and the peak of
tree + them at the same instant, are kept apart from the tree's own.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.05
PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


@dataclass
class Sample:
    """One measured run of one variant."""

    variant: str
    rep: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    returncode: int
    log: str
    loadavg_1m: float = 0.0  # at the end of the run: other work on the machine shows here
    note: str = ""
    # with ``also_sessions``: peak RSS of those processes, and of tree + them at one instant
    also_peak_rss_mib: float | None = None
    combined_peak_rss_mib: float | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def to_json(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if v is not None}, "ok": self.ok}


def _stat_fields(pid: str) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None  # exited between listing and reading
    # the command name may contain spaces or parentheses: fields start after the last ')'
    return stat[stat.rfind(b")") + 2 :].split()


def _table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) of every live process."""
    out: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)):
            out[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return out


def _tree(root: int, table: dict[int, tuple[int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    return _tree(root, _table())


def _rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_rss_bytes(root: int) -> int:
    return _rss_bytes(process_tree(root))


def session_members(
    sessions: set[int], table: dict[int, tuple[int, int]] | None = None
) -> set[int]:
    """Live processes of the given session ids (a service started with its own session, and
    every process it spawned)."""
    table = _table() if table is None else table
    return {pid for pid, (_, sid) in table.items() if sid in sessions}


def sessions_cpu_seconds(sessions: set[int]) -> float:
    """User + system CPU of the live processes of ``sessions``, including their reaped children
    (a Spark worker's executors that exited count in the worker's ``cutime``/``cstime``)."""
    ticks = 0
    for pid in session_members(sessions):
        if fields := _stat_fields(str(pid)):
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / CLOCK_TICKS


class _PeakSampler(threading.Thread):
    def __init__(self, pid: int, also_sessions: set[int] | None = None):
        super().__init__(daemon=True)
        self.pid = pid
        self.also_sessions = also_sessions or set()
        self.peak = self.also_peak = self.combined_peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            if self.also_sessions:
                table = _table()
                tree = set(_tree(self.pid, table))
                also = session_members(self.also_sessions, table) - tree
                tree_rss, also_rss = _rss_bytes(tree), _rss_bytes(also)
                self.peak = max(self.peak, tree_rss)
                self.also_peak = max(self.also_peak, also_rss)
                self.combined_peak = max(self.combined_peak, tree_rss + also_rss)
            else:
                self.peak = max(self.peak, tree_rss_bytes(self.pid))
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(
    variant: str,
    rep: int,
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log: Path,
    timeout: float | None = None,
    also_sessions: set[int] | None = None,
) -> Sample:
    """Run ``cmd`` to completion (output to ``log``) and measure it.

    The harness runs one measured process at a time, so the growth of this process's
    RUSAGE_CHILDREN is exactly the CPU time of that process tree. ``also_sessions``: session
    ids of other processes (not the tree's) whose memory is sampled beside it.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    cpu_before = _children_cpu()
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = _PeakSampler(proc.pid, also_sessions)
        sampler.start()
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the process group we created for this run only
            returncode = proc.wait()
        wall = time.perf_counter() - started
        sampler.stop()
    return Sample(
        variant=variant,
        rep=rep,
        wall_s=round(wall, 3),
        cpu_s=round(_children_cpu() - cpu_before, 3),
        peak_rss_mib=round(sampler.peak / MIB, 1),
        returncode=returncode,
        log=str(log),
        loadavg_1m=round(os.getloadavg()[0], 2),
        also_peak_rss_mib=round(sampler.also_peak / MIB, 1) if also_sessions else None,
        combined_peak_rss_mib=round(sampler.combined_peak / MIB, 1) if also_sessions else None,
    )

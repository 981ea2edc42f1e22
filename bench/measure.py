"""Run one command as its own OS process and measure what a user pays for it.

Wall time from spawn to exit, CPU time of the whole process tree (user + system of every
descendant reaped), and the peak resident memory of the whole process tree: a sampler thread
reads ``/proc`` every 50 ms and sums the RSS of the process and all its descendants (Dagster
worker processes, the ``dbt`` subprocesses they start, …). psutil is not installed in this
environment, so ``/proc`` is read directly (Linux only).

Summed RSS counts pages shared between processes (shared libraries) once per process, so it
is an upper bound of the tree's real footprint; with ``spawn`` workers little else is shared.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.05
PAGE = os.sysconf("SC_PAGE_SIZE")
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

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def to_json(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live process."""
    out: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # exited between listing and reading
        # the command name may contain spaces or parentheses: fields start after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        out[int(entry.name)] = int(fields[1])
    return out


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


class _PeakSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
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
) -> Sample:
    """Run ``cmd`` to completion (output to ``log``) and measure it.

    The harness runs one measured process at a time, so the growth of this process's
    RUSAGE_CHILDREN is exactly the CPU time of that process tree.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    cpu_before = _children_cpu()
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = _PeakSampler(proc.pid)
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
    )

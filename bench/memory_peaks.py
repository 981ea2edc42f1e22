"""``python -m bench.memory_peaks --out FILE.json -- CMD...``: where a build's memory goes.

Runs ``CMD`` like the benchmark does (:func:`bench.measure.run_measured`: wall time, CPU and the
peak RSS of the whole process tree) and, beside it, keeps per process of the tree its peak RSS,
its kind (the coordinator, a domain's worker, anything else) and the domains it built — the
process building a domain (a worker, or the coordinator itself when domains build one at a
time) has its DuckDB file (``warehouse/<domain>.duckdb``) open meanwhile.
Per domain: the peak RSS of the process while building it, and the tree's peak while it ran.

Linux only (``/proc``), like bench/measure.py, whose functions it reuses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from bench import measure

MIB = measure.MIB


def _rss(pid: int) -> int:
    return measure._rss_bytes([pid])


def _domain_open(pid: int) -> str | None:
    """The domain whose DuckDB file ``pid`` has open (its build), if any."""
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if "/warehouse/" in target and target.endswith(".duckdb"):
                return Path(target).stem
    except OSError:
        return None
    return None


def _kind(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    if "multiprocessing.resource_tracker" in cmd:
        return "resource tracker"
    if "spawn_main" in cmd:
        return "domain worker"
    if "mesh" in cmd:
        return "coordinator (mesh CLI)"
    return cmd[:60]


class Breakdown(threading.Thread):
    """Per process and per domain peaks, sampled every ``measure.SAMPLE_SECONDS``."""

    def __init__(self):
        super().__init__(daemon=True)
        self.processes: dict[int, dict] = {}
        self.domains: dict[str, dict] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(measure.SAMPLE_SECONDS)

    def sample(self) -> None:
        me = os.getpid()  # the measured command is this process's child
        tree = [pid for pid in measure.process_tree(me) if pid != me]
        rss = {pid: _rss(pid) for pid in tree}
        total = sum(rss.values())
        for pid, value in rss.items():
            entry = self.processes.setdefault(
                pid, {"kind": _kind(pid), "peak_mib": 0.0, "domains": []}
            )
            entry["peak_mib"] = max(entry["peak_mib"], round(value / MIB, 1))
            # a domain builds in a worker, or in the coordinator when one domain runs at a time
            domain = _domain_open(pid) if entry["kind"] != "resource tracker" else None
            if domain:
                if domain not in entry["domains"]:
                    entry["domains"].append(domain)
                d = self.domains.setdefault(
                    domain, {"process_peak_mib": 0.0, "tree_peak_mib_while_building": 0.0}
                )
                d["process_peak_mib"] = max(d["process_peak_mib"], round(value / MIB, 1))
                d["tree_peak_mib_while_building"] = max(
                    d["tree_peak_mib_while_building"], round(total / MIB, 1)
                )

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="JSON file of the measurements")
    p.add_argument(
        "--log", type=Path, default=None, help="the command's output (default: beside --out)"
    )
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = p.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        sys.exit("give the command to measure after --")
    breakdown = Breakdown()
    breakdown.start()
    sample = measure.run_measured(
        "memory",
        1,
        cmd,
        env=dict(os.environ),
        cwd=Path.cwd(),
        log=args.log or args.out.with_suffix(".log"),
    )
    breakdown.stop()
    result = {
        **sample.to_json(),
        "cmd": cmd,
        "loadavg_at_end": os.getloadavg(),
        "processes": sorted(breakdown.processes.values(), key=lambda e: -e["peak_mib"]),
        "domains": breakdown.domains,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "processes"}, indent=2))
    for entry in result["processes"]:
        if entry["peak_mib"] > 20:
            print(f"  {entry['kind']:<24} {entry['peak_mib']:>8.1f} MiB  {entry['domains']}")


if __name__ == "__main__":
    main()

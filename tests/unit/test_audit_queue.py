"""Ports audited beside dbt: one at a time, in order, their logs and events replayed by the
step's own thread (build/audit_queue.py)."""

from __future__ import annotations

import threading
import time

import pytest

from mesh_platform.build.audit_queue import AuditQueue


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def _line(self, level: str, message: str) -> None:
        self.lines.append((level, message, threading.current_thread().name))

    def info(self, message: str) -> None:
        self._line("info", message)

    def warning(self, message: str) -> None:
        self._line("warning", message)

    def error(self, message: str) -> None:
        self._line("error", message)

    def debug(self, message: str) -> None:
        self._line("debug", message)


def test_jobs_run_one_at_a_time_in_order_and_their_events_come_back_in_order():
    log, running, overlaps = RecordingLog(), [], []
    queue = AuditQueue(log)

    def port(name: str, seconds: float):
        def job(buffer):
            running.append(name)
            if len(running) > 1:
                overlaps.append(tuple(running))
            buffer.info(f"published {name}")
            time.sleep(seconds)
            running.remove(name)
            return [f"{name}:materialization", f"{name}:checks"]

        return job

    queue.submit(port("play_events", 0.2))  # the slow one first: the next must wait for it
    queue.submit(port("daily_plays", 0.0))
    try:
        events = list(queue.drain())
    finally:
        queue.close()
    assert events == [
        "play_events:materialization",
        "play_events:checks",
        "daily_plays:materialization",
        "daily_plays:checks",
    ]
    assert overlaps == []
    # logged by the step's thread (Dagster's context is that thread's), in order
    assert [(lvl, msg) for lvl, msg, _ in log.lines] == [
        ("info", "published play_events"),
        ("info", "published daily_plays"),
    ]
    assert {thread for *_, thread in log.lines} == {threading.current_thread().name}


def test_ready_hands_back_only_finished_jobs_without_waiting():
    release = threading.Event()
    queue = AuditQueue(RecordingLog())
    queue.submit(lambda log: ["first"])
    queue.submit(lambda log: release.wait(5) and ["second"])
    try:
        deadline = time.monotonic() + 5
        got: list[str] = []
        while not got and time.monotonic() < deadline:
            got = list(queue.ready())
        assert got == ["first"]
        assert list(queue.ready()) == []  # the second is still running: not waited for
        release.set()
        assert list(queue.drain()) == ["second"]
    finally:
        release.set()
        queue.close()


def test_a_failing_job_raises_in_the_step_thread_after_its_lines_are_logged():
    log = RecordingLog()
    queue = AuditQueue(log)

    def broken(buffer):
        buffer.error("domain d, product p: could not be published")
        raise RuntimeError("disk full")

    queue.submit(broken)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            list(queue.drain())
    finally:
        queue.close()
    assert log.lines[0][:2] == ("error", "domain d, product p: could not be published")


def test_close_waits_for_the_running_job_and_drops_those_not_started():
    started, finished = threading.Event(), []
    queue = AuditQueue(RecordingLog())

    def slow(log):
        started.set()
        time.sleep(0.3)
        finished.append("slow")
        return []

    queue.submit(slow)
    queue.submit(lambda log: finished.append("never") or [])
    assert started.wait(5)
    queue.close()
    assert finished == ["slow"]  # the publish under way completed; the next never started

"""Talk to a running ``mesh serve --production`` from another shell: redeploy one domain.

The serving process owns its code servers (it started them, it stops them by process id), so
another process must not kill or start them itself: it leaves a request file, and the serving
process, which polls for requests once a second, replaces that domain's code server in place
— same port, new process, code read afresh from the mesh (or from another copy of it) — while
every other process keeps running: what rolling out one user deployment does on Kubernetes.
The serving process publishes what runs (its pid, each code server's pid and port, each
redeploy's outcome) in ``state.json`` beside the cluster, which the requester waits on.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from mesh_platform.production.processes import alive_pids

STATE_FILE = "state.json"
REQUESTS_DIR = "requests"
RELOAD = """mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename } }"""


class NotServing(RuntimeError):
    """No ``mesh serve --production`` is running over this data directory."""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)  # readers never see half a file


class Controller:
    """The serving side: publishes the state and carries out requests (call :meth:`poll`)."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.root: Path = stack.root
        self.redeploys: dict[str, dict[str, Any]] = {}

    @property
    def requests(self) -> Path:
        return self.root / REQUESTS_DIR

    def publish(self) -> None:
        self.requests.mkdir(parents=True, exist_ok=True)
        state = {
            "pid": os.getpid(),
            "webserver": self.stack.url,
            "code_servers": {
                domain: {
                    "pid": server.service.pid,
                    "port": server.port,
                    "repo_root": str(server.repo_root),
                }
                for domain, server in self.stack.code_servers.items()
            },
            "redeploys": self.redeploys,
        }
        _write_json(self.root / STATE_FILE, state)

    def poll(self) -> None:
        """Carry out every pending request, oldest first."""
        if not self.requests.is_dir():
            return
        for path in sorted(self.requests.glob("*.json"), key=lambda p: p.stat().st_mtime):
            request = json.loads(path.read_text())
            path.unlink()
            self._redeploy(request)
            self.publish()

    def _redeploy(self, request: dict[str, Any]) -> None:
        domain = request["domain"]
        outcome: dict[str, Any] = {"request": request["id"], "ok": False, "error": None}
        try:
            if domain not in self.stack.code_servers:
                raise ValueError(f"no code server for domain {domain!r}")
            repo_root = Path(request.get("repo_root") or self.stack.code_servers[domain].repo_root)
            self.stack.replace_code_server(domain, repo_root)
            self._reload_location(domain)
            outcome["ok"] = True
        except Exception as exc:  # reported to the requester, the stack keeps serving
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        self.redeploys[domain] = outcome

    def _reload_location(self, domain: str) -> None:
        """Make the webserver load the new server now rather than at its next poll."""
        body = json.dumps({"query": RELOAD, "variables": {"name": domain}}).encode()
        req = urllib.request.Request(  # the stack's own webserver on 127.0.0.1
            f"{self.stack.url}/graphql", body, {"Content-Type": "application/json"}
        )
        with contextlib.suppress(OSError), urllib.request.urlopen(req, timeout=30):
            pass

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / STATE_FILE).unlink()


def read_state(root: Path) -> dict[str, Any]:
    """The running stack's state; :class:`NotServing` when there is none."""
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except FileNotFoundError:
        raise NotServing(
            f"no production stack is serving from {root.parent}: start `mesh serve --production` "
            "(with the same MESH_DATA_DIR) first"
        ) from None
    if not alive_pids({state["pid"]}):
        raise NotServing(f"the stack that wrote {root / STATE_FILE} (pid {state['pid']}) is gone")
    return state


def request_redeploy(
    root: Path, domain: str, repo_root: Path | None = None, timeout: float = 240
) -> dict[str, Any]:
    """Ask the serving process to redeploy ``domain``; wait for and return the new server's
    state (pid, port). Raises ``ValueError`` for an unknown domain or a failed redeploy."""
    state = read_state(root)
    if domain not in state["code_servers"]:
        known = ", ".join(sorted(state["code_servers"]))
        raise ValueError(f"the stack serves no domain {domain!r} (it serves {known})")
    request_id = uuid.uuid4().hex
    request = {"id": request_id, "domain": domain}
    if repo_root is not None:
        request["repo_root"] = str(repo_root.resolve())
    _write_json(root / REQUESTS_DIR / f"{time.time_ns()}-{request_id}.json", request)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(root)
        outcome = state["redeploys"].get(domain, {})
        if outcome.get("request") == request_id:
            if not outcome["ok"]:
                raise ValueError(f"redeploying {domain} failed: {outcome['error']}")
            return state["code_servers"][domain]
        time.sleep(0.5)
    raise TimeoutError(f"the stack did not redeploy {domain} within {timeout:.0f}s")

"""Every server the mesh starts listens on 127.0.0.1 unless told otherwise with an explicit flag.

No server is started: the commands are run with the final step (starting ``dagster dev``,
``uvicorn.run``, spawning a service) replaced by a recorder of what it would have bound to.
"""

from __future__ import annotations

import inspect

import pytest
import yaml
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.core.environment import get_environment

LOOPBACK = "127.0.0.1"


def _flag_value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.fixture
def dev_exec(monkeypatch):
    """`mesh dev` up to starting `dagster dev`; returns the argv it would start."""
    import mesh_platform.build.instance as instance
    import mesh_platform.cli.dev as dev

    calls: list[list[str]] = []
    monkeypatch.setattr(dev, "prepare_all", lambda *_: None)
    monkeypatch.setattr(dev, "run_generate", lambda *_: None)
    monkeypatch.setattr(instance, "ensure_dagster_home", lambda *_: None)
    monkeypatch.setattr(dev, "_needs_spark_cluster", lambda _: False)
    monkeypatch.setattr(dev, "supervise", lambda args, *_: calls.append(list(args)) or 0)
    return calls


def test_mesh_dev_binds_the_dagster_ui_to_loopback_by_default(dev_exec):
    result = CliRunner().invoke(app, ["dev"])
    assert result.exit_code == 0, result.output
    (args,) = dev_exec
    assert args[1] == "dev" and _flag_value(args, "-h") == LOOPBACK


def test_mesh_dev_binds_elsewhere_only_when_asked(dev_exec):
    result = CliRunner().invoke(app, ["dev", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert _flag_value(dev_exec[0], "-h") == "0.0.0.0"


@pytest.fixture
def portal_run(monkeypatch):
    """`mesh portal` up to ``uvicorn.run``; returns the keyword arguments it would run with."""
    import uvicorn

    import mesh_platform.portal as portal

    calls: list[dict] = []
    monkeypatch.setattr(portal, "create_app", lambda env: object())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def test_mesh_portal_binds_to_loopback_by_default_with_no_access_log(portal_run):
    result = CliRunner().invoke(app, ["portal"])
    assert result.exit_code == 0, result.output
    (kwargs,) = portal_run
    assert kwargs["host"] == LOOPBACK
    assert kwargs["access_log"] is False  # no bearer token or query ever reaches a log


def test_mesh_portal_on_another_address_needs_the_flag_and_warns(portal_run):
    result = CliRunner().invoke(app, ["portal", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert portal_run[0]["host"] == "0.0.0.0"
    assert "anyone who can reach it" in result.output


def test_mesh_serve_production_has_no_bind_option():
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" not in result.output and "--bind" not in result.output


def test_the_production_topology_binds_every_service_to_loopback(monkeypatch, tmp_path):
    """Code servers, webserver, the generated workspace and PostgreSQL: 127.0.0.1 only."""
    import mesh_platform.production.stack as stack_module
    from mesh_platform.production.postgres import PostgresCluster

    started: list[list[str]] = []

    class Recorder:
        def __init__(self, name, args, env, log_path, cwd=None):
            self.args = args

        def start(self):
            started.append(self.args)
            return self

    monkeypatch.setattr(stack_module, "Service", Recorder)
    monkeypatch.setattr(stack_module, "wait_until", lambda *a, **k: None)
    monkeypatch.setattr(stack_module, "port_open", lambda *_: False)
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    env = get_environment()
    stack = stack_module.Stack(env, domains=["playback"], webserver_port=3999)
    stack.dagster_home.mkdir(parents=True)
    server = stack._code_server("playback", 4000, env.repo_root)
    assert _flag_value(server.service.args, "-h") == LOOPBACK
    stack.code_servers["playback"] = server
    stack._write_workspace()
    workspace = yaml.safe_load(stack.workspace_file.read_text())
    assert {e["grpc_server"]["host"] for e in workspace["load_from"]} == {LOOPBACK}
    stack._start_daemon_and_webserver()
    (webserver,) = [a for a in started if a[0].endswith("dagster-webserver")]
    assert _flag_value(webserver, "-h") == LOOPBACK
    assert stack.url.startswith(f"http://{LOOPBACK}:")
    # PostgreSQL listens on loopback TCP only (no Unix socket) and tells clients so
    source = inspect.getsource(PostgresCluster)
    assert f"listen_addresses={LOOPBACK}" in source and "unix_socket_directories=''" in source
    assert PostgresCluster(env.data_dir).env()["DAGSTER_PG_HOST"] == LOOPBACK

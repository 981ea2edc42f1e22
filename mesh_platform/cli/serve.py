"""``mesh serve --production``: the production topology of the mesh, on this machine.

PostgreSQL-backed Dagster, one gRPC code server per domain, the daemon and the webserver —
what a cluster runs, on 127.0.0.1 — until Ctrl-C, which stops every process by its id.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import typer

from mesh_platform.cli.generate import run_generate
from mesh_platform.cli.output import console
from mesh_platform.core.environment import apply_tool_env


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        production: bool = typer.Option(
            False,
            "--production",
            help="Run the production topology: PostgreSQL, one code server per domain, "
            "dagster-daemon and dagster-webserver (for the embedded local UI use `mesh dev`).",
        ),
        port: int = typer.Option(3000, help="Port of the web UI (a free one if taken)."),
    ) -> None:
        """Serve the mesh's Dagster UI in its production topology (Ctrl-C stops everything)."""
        if not production:
            raise typer.BadParameter(
                "only the production topology is served here: pass --production "
                "(the embedded local UI is `mesh dev`)"
            )
        from mesh_platform.production.stack import Stack

        out = console()
        env = apply_tool_env()
        if not env.operational_dir.is_dir() or not any(env.operational_dir.iterdir()):
            run_generate(0.05, 42, out)
        stack = Stack(env, webserver_port=port)
        stopping = threading.Event()
        # SIGTERM (e.g. from a supervisor) stops as cleanly as Ctrl-C
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        out.print(
            f"starting PostgreSQL, {len(stack.domains)} code servers "
            f"({', '.join(stack.domains)}), daemon and webserver …"
        )
        from mesh_platform.core.domain import load_all_domains
        from mesh_platform.production.control import Controller
        from mesh_platform.production.spark_cluster import spark_cluster_for
        from mesh_platform.run.runner import uses_spark

        spark = contextlib.ExitStack()  # a local Spark cluster, if a domain needs one
        control = Controller(stack)
        try:
            needed = uses_spark(load_all_domains(env.domains_dir))
            if master := spark.enter_context(spark_cluster_for(env, needed)):
                out.print(f"Spark domains build on {master}")
            stack.start()
            timings = ", ".join(f"{k} {v:.1f}s" for k, v in stack.timings.items())
            out.print(f"[green]✔[/] up in {stack.timings['total']:.1f}s ({timings})")
            out.print(f"Dagster UI on {stack.url} (Ctrl-C to stop); logs in {stack.log_dir}")
            out.print(
                "Redeploy one domain's code server with its new code, the others untouched: "
                "`mesh redeploy DOMAIN` (same MESH_DATA_DIR) in another shell"
            )
            control.publish()
            while not stopping.wait(1):
                control.poll()
        except KeyboardInterrupt:
            pass
        finally:
            out.print("stopping …")
            control.close()
            left = stack.stop()
            spark.close()
            if left:
                out.print(f"[red]✘[/] processes still running: {sorted(left)}")
                raise typer.Exit(1)
            out.print("[green]✔[/] every process stopped; PostgreSQL cluster removed")

"""``mesh portal``: the consumer plane's web portal and HTTP API, on 127.0.0.1 by default."""

from __future__ import annotations

import typer

from mesh_platform.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command()
    def portal(
        host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
        port: int = typer.Option(8000, min=1, max=65535, help="Port of the portal."),
    ) -> None:
        """Serve the data portal (search, product pages, access requests) and its HTTP API.

        Sign in with a token from `mesh access token USER`. Request logging is off, so no
        token or query ever reaches a log.
        """
        import uvicorn

        from mesh_platform.core.environment import apply_tool_env
        from mesh_platform.portal import create_app

        env = apply_tool_env()
        app = create_app(env)
        out = console()
        url = f"http://{host}:{port}"
        out.print(f"Data portal on [bold]{url}[/] — HTTP API {url}/api/v1, reference {url}/docs")
        out.print("Sign in with a token: `mesh access token USER` prints one (shown once).")
        if host not in ("127.0.0.1", "localhost", "::1"):
            out.print(
                f"[yellow]warning:[/] listening on {host}: anyone who can reach it sees the "
                "catalog; serve it behind TLS so tokens are not sent in clear text"
            )
        out.print("Ctrl-C stops it.")
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")

"""One console for every verb: real stdout, wide enough for tables when not a terminal."""

from __future__ import annotations

import sys

from rich.console import Console


def console() -> Console:
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)


def print_pending(user_id: str | None, service=None) -> None:
    """Tell an owner (or steward) how many access requests wait for their decision."""
    if not user_id:
        return
    if service is None:
        from mesh_platform.access.service import AccessService

        service = AccessService()
    waiting = service.pending_to_decide(user_id)
    if waiting:
        console().print(
            f"{len(waiting)} access request(s) wait for your decision: "
            f"mesh access requests --to-decide --as {user_id}",
            highlight=False,
        )

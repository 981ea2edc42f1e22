"""Who runs a ``mesh`` command that reads or decides on data.

``--as USER`` (or ``MESH_USER``) is taken on trust: it is for a trusted operator on the mesh's
own machine, who can read the data directory anyway. Where that trust does not hold,
``MESH_REQUIRE_TOKEN=1`` — the default in the production environment — makes the CLI ask for
``MESH_TOKEN``, an API token (``mesh access token USER``), and act as the token's user.
"""

from __future__ import annotations

import os

from mesh_platform.access.errors import AccessDenied
from mesh_platform.core.environment import MeshEnvironment, get_environment

REQUIRE = "MESH_REQUIRE_TOKEN"
IDENTITY_VARIABLE = "MESH_TOKEN"  # holds an API token; the name is not a secret


def tokens_required(env: MeshEnvironment) -> bool:
    """``MESH_REQUIRE_TOKEN`` (``1`` or ``0``); unset, on in production and off locally."""
    value = os.environ.get(REQUIRE)
    return env.name == "production" if value is None else value.strip() == "1"


def cli_user(as_user: str | None) -> str | None:
    """The user a command acts as; AccessDenied (exit 3) when a required token is missing."""
    env = get_environment()
    if not tokens_required(env):
        return as_user or os.environ.get("MESH_USER")
    from mesh_platform.access.service import AccessService

    try:
        user = AccessService(env).authenticate(os.environ.get(IDENTITY_VARIABLE))
    except AccessDenied:
        raise AccessDenied(
            f"this mesh requires a token ({REQUIRE}=1): set {IDENTITY_VARIABLE} to your API token "
            "(an operator issues one with `mesh access token USER`); --as is not trusted here"
        ) from None
    if as_user and as_user != user.id:
        raise AccessDenied(f"--as {as_user}: {IDENTITY_VARIABLE} belongs to {user.id}; drop --as")
    return user.id

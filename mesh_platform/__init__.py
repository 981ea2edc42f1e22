"""The self-serve data platform: turns data-product descriptors into governed Dagster definitions.

Nothing in this package knows about a particular company: domains compose it.
"""


def connect(user: str | None = None, as_of=None, snapshots=None):
    """A read-only DuckDB view of the mesh for ``user`` (default: ``$MESH_USER``).

    Only the ports the user may read are visible, as ``<domain>.<port>``; personal-data columns
    read as NULL without a grant covering them; every query is audited. ``con.df(sql)`` gives a
    pandas DataFrame, ``con.sql(sql)`` a DuckDB relation, ``con.run(sql, max_rows)`` the Arrow
    table and whether it was cut. Each query runs within ``MESH_QUERY_TIMEOUT_S``,
    ``MESH_QUERY_MEMORY_LIMIT`` and ``MESH_QUERY_MAX_ROWS`` (a longer result is cut there, with a
    warning). See :mod:`mesh_platform.access.query` and :mod:`mesh_platform.access.limits`.

    Reproducible reads: ``as_of`` (a timezone-aware ``datetime``) reads every port as it was
    then; ``snapshots={"domain.port": "<snapshot id>"}`` pins a port's newest major to one
    snapshot (``mesh products`` and the portal show the ids; ports keep their newest five
    snapshots and any a reader holds).
    """
    import os

    from mesh_platform.access.service import AccessService

    return AccessService().connect(
        user or os.environ.get("MESH_USER"), channel="python", as_of=as_of, snapshots=snapshots
    )

"""Who may read which data product: identities, grants, access requests, audit, guarded queries.

Everything here is data under ``governance/access/`` (who exists, who was granted what) or under
the data directory's ``access/`` folder (requests, issued API tokens, the audit log). The
enforcement points are the mesh's own read interfaces: ``mesh query``, :func:`mesh_platform.connect`,
the portal and its HTTP API. A person with shell access to the data directory can read the
Parquet files directly: file permissions are the operating system's job, not this module's.
"""

from mesh_platform.access.errors import AccessDenied, AccessError, QueryRefused

__all__ = ["AccessDenied", "AccessError", "QueryRefused"]

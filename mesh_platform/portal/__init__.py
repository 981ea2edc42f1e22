"""The consumer plane's web portal and HTTP API (``mesh portal``), over the catalog and access.

Pages are server-rendered HTML without JavaScript; the API lives under ``/api/v1``. Both render
the catalog's one product structure (:func:`mesh_platform.catalog.detail.product_detail`) and read
data only through a user's guarded :class:`~mesh_platform.access.query.MeshConnection`, so grants,
personal-data masking and the audit log apply to every byte served.
"""

from mesh_platform.portal.app import create_app

__all__ = ["create_app"]

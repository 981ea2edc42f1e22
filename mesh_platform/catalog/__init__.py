"""The consumer catalog: every data product, searchable, with its schema, status and lineage."""

from mesh_platform.catalog.build import build_catalog
from mesh_platform.catalog.catalog import Catalog, CatalogError
from mesh_platform.catalog.search import SearchIndex

__all__ = ["Catalog", "CatalogError", "SearchIndex", "build_catalog"]

"""The production topology on one machine: PostgreSQL-backed Dagster, one code server per domain.

``mesh serve --production`` and the tests use :class:`~mesh_platform.production.stack.Stack`;
the Helm values for Kubernetes come from :mod:`mesh_platform.production.helm`, and the local
Spark standalone cluster Spark domains build on from :mod:`mesh_platform.production.spark_cluster`.
"""

"""Federated computational governance: the mesh's global policies, evaluated by code.

The governance group writes policies as data in ``governance/`` (at the repository root); this
package evaluates them at lint time (``mesh lint``), when a code location loads (a governance
asset check per output port) and when a product runs (data-level checks before publishing).
Every evaluation reports in one format, :class:`~mesh_platform.governance.report.Finding`.
"""

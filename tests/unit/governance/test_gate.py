"""The governance gate of a code location: a non-compliant product still loads, its
governance check says why at load, and its check result fails (blocking publish)."""

from __future__ import annotations

import dagster as dg

from mesh_platform.build.governance_check import CHECK_NAME, GovernanceGate, check_result
from mesh_platform.governance.context import MeshContext
from tests.unit.governance.fixture_mesh import fixture_mesh


def _gate(tmp_path, mutate=None) -> tuple[GovernanceGate, object]:
    mesh = fixture_mesh(tmp_path)
    if mutate:
        mutate(mesh)
    report = mesh.report()
    from mesh_platform.core.bindings import bind_domain
    from mesh_platform.core.domain import load_domain
    from mesh_platform.governance.config import load_governance
    from tests.unit.governance.fixture_mesh import TODAY

    manifest = mesh.manifest()
    bindings = bind_domain(load_domain(tmp_path / "domains" / "shop"), manifest)
    ctx = MeshContext(load_governance(tmp_path / "governance"), manifest, TODAY, [bindings], {})
    (binding,) = bindings.ports.values()
    return GovernanceGate(ctx=ctx, report=report, repo_root=tmp_path), binding


def test_compliant_port_check_passes(tmp_path):
    gate, binding = _gate(tmp_path)
    spec = gate.check_spec(binding, dg.AssetKey(["shop", "daily_widgets"]))
    assert spec.name == CHECK_NAME and spec.blocking
    assert "Status: compliant at load." in spec.description
    result = check_result(spec.asset_key, gate.static_findings(binding))
    assert result.passed
    assert result.metadata["errors"].value == 0


def test_non_compliant_port_loads_and_its_check_fails(tmp_path):
    gate, binding = _gate(tmp_path, lambda m: m.product.pop("slo"))
    spec = gate.check_spec(binding, dg.AssetKey(["shop", "daily_widgets"]))
    assert "FAILS at load: 1 error-level finding(s) — slo.freshness (slo.freshness_hours)" in (
        spec.description
    )
    assert gate.asset_metadata(binding)["mesh/governance_errors_at_load"] == 1
    result = check_result(spec.asset_key, gate.static_findings(binding))
    assert not result.passed
    assert result.metadata["failing_policies"].value == "slo.freshness"
    assert "declares no freshness SLO" in result.metadata["findings"].value

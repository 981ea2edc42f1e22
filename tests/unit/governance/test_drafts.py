"""Issue 22: a product is a draft until released. A draft changes its schema freely (lint and
the publish step's governance check allow it); `mesh release` freezes v1, after which the same
kind of change needs a new major, exactly as before."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.core.bindings import bind_domain
from mesh_platform.core.declared_schema import declared_port_schema
from mesh_platform.core.domain import load_domain
from mesh_platform.governance.config import load_governance
from mesh_platform.governance.context import MeshContext, PortSubject
from mesh_platform.governance.runtime import versioning_at_publish
from mesh_platform.governance.versioning import BREAKING_NEEDS_MAJOR, versioning_findings
from mesh_platform.ports.records import write_published_schema
from mesh_platform.scaffold.plan import ScaffoldError
from tests.ports_support import publish_one_row
from tests.unit.governance.fixture_mesh import TODAY, fixture_mesh


def _retype_widgets(mesh, data_type: str) -> None:
    for column in (*mesh.columns, *mesh.contract["columns"]):
        if column["name"] == "widgets":
            column["data_type"] = data_type
    mesh.write()


def _subject(mesh) -> tuple[MeshContext, PortSubject]:
    manifest = mesh.manifest()
    bindings = bind_domain(load_domain(mesh.root / "domains" / "shop"), manifest)
    ctx = MeshContext(load_governance(mesh.root / "governance"), manifest, TODAY, [bindings], {})
    (binding, *_) = bindings.ports.values()
    node = manifest["nodes"][binding.unique_id]
    return ctx, PortSubject(bindings.domain, binding.product, binding.port, node, binding.contract)


def _publish_record(mesh, ports) -> None:
    """What the publish step leaves: a current snapshot, and beside it the schema it was
    published with."""
    _, subject = _subject(mesh)
    publish_one_row(ports, f"{subject.product.domain}.{subject.port.name}", subject.port.version)
    write_published_schema(ports, declared_port_schema(mesh.root, subject.product, subject.port))


def _lint(mesh, ports):
    return versioning_findings(mesh.root, ports, TODAY, manifest=mesh.manifest())


def test_a_draft_changes_a_type_freely_and_release_freezes_it(tmp_path, monkeypatch):
    data = tmp_path / "data"
    ports = data / "ports"
    mesh = fixture_mesh(tmp_path / "repo")
    mesh.product["status"] = "draft"
    mesh.write()
    _publish_record(mesh, ports)  # its previous draft snapshot: widgets bigint

    _retype_widgets(mesh, "varchar")  # breaking for a released port
    assert _lint(mesh, ports) == []
    ctx, subject = _subject(mesh)
    assert versioning_at_publish(ctx, subject, mesh.root, ports) == []  # the publish goes ahead
    _publish_record(mesh, ports)

    monkeypatch.setenv("MESH_REPO_ROOT", str(mesh.root))
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    result = CliRunner().invoke(app, ["release", "shop.daily_widgets"])
    assert result.exit_code == 0, result.output
    descriptor = mesh.root / "domains" / "shop" / "products" / "daily_widgets.yaml"
    assert yaml.safe_load(descriptor.read_text())["status"] == "released"
    mesh.product["status"] = "released"
    again = CliRunner().invoke(app, ["release", "shop.daily_widgets"])
    assert isinstance(again.exception, ScaffoldError)  # `mesh` exits 2 with its message
    assert "already released" in str(again.exception)

    _retype_widgets(mesh, "double")  # the same kind of change, now on a released product
    (finding,) = _lint(mesh, ports)
    assert finding.policy == BREAKING_NEEDS_MAJOR
    assert "is declared with breaking changes from what was published as v1" in finding.message
    assert "publish the change as v2" in finding.fix
    ctx, subject = _subject(mesh)
    (blocked,) = versioning_at_publish(ctx, subject, mesh.root, ports)
    assert blocked.policy == BREAKING_NEEDS_MAJOR


def test_release_refuses_while_the_published_draft_differs_from_the_declaration(
    tmp_path, monkeypatch
):
    data = tmp_path / "data"
    mesh = fixture_mesh(tmp_path / "repo")
    mesh.product["status"] = "draft"
    mesh.write()
    _publish_record(mesh, data / "ports")
    _retype_widgets(mesh, "varchar")
    monkeypatch.setenv("MESH_REPO_ROOT", str(mesh.root))
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    result = CliRunner().invoke(app, ["release", "shop.daily_widgets"])
    assert isinstance(result.exception, ScaffoldError)  # `mesh` exits 2 with its message
    assert "mesh materialize shop" in str(result.exception)
    descriptor = mesh.root / "domains" / "shop" / "products" / "daily_widgets.yaml"
    assert yaml.safe_load(descriptor.read_text())["status"] == "draft"

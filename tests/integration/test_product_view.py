"""One product, one answer: the owner, address and asset key are the same on every surface.

artists.track_catalog loses its `owner:` in a copy of the mesh. The domain's owner team then
answers for it — in Dagster (the asset's owners and contact), in the catalog (what the portal
and `mesh catalog show` render) and in `mesh materialize`'s summary table.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
import yaml

from mesh_platform.build.definitions import build_domain_definitions
from mesh_platform.build.execute import DomainRun
from mesh_platform.catalog.build import build_catalog
from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.product_view import product_view
from mesh_platform.run.summary import product_rows

from ..conftest import REPO
from .test_mesh_diff import copy_mesh

pytestmark = pytest.mark.slow


@pytest.fixture
def ownerless_product(tmp_path, monkeypatch):
    root = copy_mesh(tmp_path / "mesh")
    shutil.copytree(REPO / "governance", root / "governance")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    path = root / "domains/artists/products/track_catalog.yaml"
    raw = yaml.safe_load(path.read_text())
    del raw["owner"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv("MESH_REPO_ROOT", str(root))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    return root


def test_a_product_without_owner_has_the_domains_owner_on_every_surface(ownerless_product):
    env = apply_tool_env()
    domain = load_domain(ownerless_product / "domains/artists")
    product = next(p for p in domain.products if p.name == "track_catalog")
    assert product.owner is None
    view = product_view(domain, product)
    (port,) = view.ports
    assert (view.owner.team, port.owner.team) == ("artists-team", "artists-team")

    # Dagster: the port's asset
    defs = build_domain_definitions(domain.path)
    spec = defs.resolve_asset_graph().get(dg.AssetKey(port.asset_path))
    assert spec.owners == ["team:artists-team"]
    assert spec.metadata["mesh/owner_contact"] == domain.spec.owner.contact
    assert spec.metadata["mesh/address"] == str(port.address)

    # the catalog (the portal and `mesh catalog show` render these entries)
    entry = build_catalog(env).product("artists.track_catalog")
    assert (entry.owner_team, entry.owner_contact) == ("artists-team", domain.spec.owner.contact)
    (port_entry,) = entry.ports
    assert (port_entry.owner_team, port_entry.address) == ("artists-team", str(port.address))
    assert [port_entry.domain, port_entry.model] == port.asset_path

    # the summary table of `mesh materialize`
    (row,) = [
        r for r in product_rows([DomainRun("artists", spec=domain)]) if r.product == "track_catalog"
    ]
    assert (row.owner, row.address) == ("artists-team", port.label)

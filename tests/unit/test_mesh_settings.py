"""What differs between companies comes from the mesh's `[tool.mesh]`, not from the platform."""

from __future__ import annotations

import pytest

from mesh_platform.cli.generate import mesh_generator, mesh_increment
from mesh_platform.core.environment import get_environment
from mesh_platform.core.settings import mesh_settings

from ..conftest import REPO


def test_the_demo_names_its_generator_image_and_labels():
    settings = mesh_settings(REPO)
    assert settings["generator"] == "operational.mesh_entry:generate_sources"
    assert settings["increment"] == "operational.mesh_entry:append_next_day"
    assert settings["image"].endswith("/mesh-code") and settings["label_prefix"]


def test_a_mesh_without_a_generator_is_told_what_to_set(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "acme-mesh"\n')
    monkeypatch.setenv("MESH_REPO_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match=r'no source-data generator: set `generator = "module'):
        mesh_generator(get_environment())
    with pytest.raises(ValueError, match=r'no daily increment .*: set `increment = "module'):
        mesh_increment(get_environment())


def test_the_named_generator_is_loaded_without_the_platform_importing_it(monkeypatch):
    monkeypatch.setenv("MESH_REPO_ROOT", str(REPO))
    generator = mesh_generator(get_environment())
    assert generator.__module__ == "operational.mesh_entry"

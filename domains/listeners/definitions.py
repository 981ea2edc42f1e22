"""Listeners domain code location: composed by the platform from its product descriptors."""

from pathlib import Path

from mesh_platform.build.definitions import build_domain_definitions

defs = build_domain_definitions(Path(__file__).parent)

"""The optional `deployment` block of domain.yaml: absent everywhere it was, checked loudly
where it is wrong (the message names the domain file and the field)."""

from __future__ import annotations

import shutil

import pytest

from mesh_platform.core.descriptor import DescriptorError
from mesh_platform.core.domain import load_all_domains, load_domain

from ..conftest import REPO


def test_every_domain_loads_and_only_playback_declares_a_deployment():
    domains = {d.name: d.spec.deployment for d in load_all_domains(REPO / "domains")}
    assert domains.pop("playback").run.memory == "12Gi"
    assert set(domains.values()) == {None}


def domain_with(tmp_path, block: str):
    folder = tmp_path / "artists"
    shutil.copytree(REPO / "domains" / "artists", folder)
    meta = folder / "domain.yaml"
    meta.write_text(meta.read_text() + block)
    return folder


def test_a_numeric_cpu_is_read_as_a_kubernetes_quantity(tmp_path):
    spec = load_domain(domain_with(tmp_path, "deployment:\n  run: {cpu: 2, memory: 3Gi}\n")).spec
    assert spec.deployment.run.cpu == "2" and spec.deployment.run.memory == "3Gi"


@pytest.mark.parametrize(
    ("block", "field", "hint"),
    [
        ("deployment:\n  run: {memory: 4GB}\n", "deployment.run.memory", "4Gi"),
        ("deployment:\n  run: {memory: 100Mi}\n", "deployment.run.memory", "256Mi"),
        ("deployment:\n  run: {cpu: lots}\n", "deployment.run.cpu", "500m"),
        ("deployment:\n  tag: latest\n", "deployment.tag", "pin a tag"),
        ("deployment:\n  image: Registry/Code:1.0\n", "deployment.image", "without a tag"),
        ("deployment:\n  replicas: 3\n", "deployment.replicas", "not permitted"),
        ("deployment:\n  volume: big\n", "deployment.volume", "20Gi"),
    ],
)
def test_a_bad_deployment_block_names_the_domain_file_and_field(tmp_path, block, field, hint):
    folder = domain_with(tmp_path, block)
    with pytest.raises(DescriptorError) as caught:
        load_domain(folder)
    message = str(caught.value)
    assert str(folder / "domain.yaml") in message
    assert f"`{field}`" in message and hint in message

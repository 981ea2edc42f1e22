"""How a domain is deployed: the optional ``deployment`` block of its ``domain.yaml``.

A domain team knows what its runs need (memory, CPU) and ships its own image when it wants to;
the platform turns this into the domain's Kubernetes user deployment
(``mesh infra helm-values``). Everything here is optional: a domain without the block gets the
mesh's defaults (``[tool.mesh]``), so every existing ``domain.yaml`` stays valid. Values are
checked when the domain loads, so a typo fails naming the domain file and the field rather
than as a pod Kubernetes refuses or kills later.
"""

from __future__ import annotations

import re

from pydantic import field_validator

from mesh_platform.core.descriptor import _Strict

# Kubernetes quantities, in the forms a person writes (decimal SI or binary suffixes).
_MEMORY = re.compile(r"^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")
_UNITS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
# An image reference without its tag: registry/path, lower case (what OCI references allow).
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity such as ``4Gi`` or ``512M``."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a memory quantity")
    return int(float(match.group(1)) * _UNITS[match.group(3)])


def _as_text(value: object) -> object:
    # YAML reads `cpu: 1` as a number; Kubernetes quantities are strings
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class RunResources(_Strict):
    """What one run of the domain (one Kubernetes Job) reserves and may use."""

    memory: str | None = None
    cpu: str | None = None

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: object) -> object:
        value = _as_text(value)
        if isinstance(value, str) and not _MEMORY.match(value):
            raise ValueError(
                f"{value!r} is not a Kubernetes memory quantity: write e.g. 4Gi, 512Mi or 8G"
            )
        if isinstance(value, str) and memory_bytes(value) < 256 * 2**20:
            raise ValueError(f"{value} is below 256Mi: no run of the mesh starts in that")
        return value

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> object:
        value = _as_text(value)
        if isinstance(value, str) and not _CPU.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes CPU quantity: write e.g. 1, 2 or 500m")
        return value


class DomainDeployment(_Strict):
    """The ``deployment`` block of ``domain.yaml``: run resources, own image and/or tag, and
    the size of the domain's data volume."""

    run: RunResources = RunResources()
    image: str | None = None
    tag: str | None = None
    volume: str | None = None

    @field_validator("volume", mode="before")
    @classmethod
    def _volume(cls, value: object) -> object:
        value = _as_text(value)
        if isinstance(value, str) and not _MEMORY.match(value):
            raise ValueError(f"{value!r} is not a Kubernetes storage quantity: write e.g. 20Gi")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not _IMAGE.match(value):
            raise ValueError(
                f"{value!r} is not an image repository (e.g. registry.example/team/image, "
                "lower case, without a tag: set the tag in `tag`)"
            )
        return value

    @field_validator("tag", mode="before")
    @classmethod
    def _tag(cls, value: object) -> object:
        value = _as_text(value)
        if value == "latest":
            raise ValueError(
                "`latest` is refused: a run must use the code its server serves, so pin a tag"
            )
        if isinstance(value, str) and not _TAG.match(value):
            raise ValueError(f"{value!r} is not an image tag")
        return value

"""Check generated Helm values against the official Dagster chart's own schema.

The chart ships ``values.schema.json`` (and one for its ``dagster-user-deployments``
subchart), which Helm applies to the chart's defaults merged with our values. No package
registry carries the chart, and this repository does not copy its schema, so the check runs
on a chart fetched by the operator (``helm pull dagster/dagster --version X --untar``) and
pointed at with ``--chart`` or ``MESH_DAGSTER_CHART_DIR``. It merges like Helm (maps merge,
anything else replaces, ``null`` deletes) and validates what Helm would validate. Schemas of
older charts refer to Kubernetes definitions by URL; those are resolved offline from the
definitions ``kubernetes-validate`` ships.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

CHART_DIR_ENV = "MESH_DAGSTER_CHART_DIR"
SUBCHART = "dagster-user-deployments"
KUBERNETES_VERSION = "1.31.0"


def chart_dir_from_env() -> Path | None:
    value = os.environ.get(CHART_DIR_ENV)
    return Path(value) if value else None


def chart_version(chart_dir: Path) -> str:
    return str(yaml.safe_load((chart_dir / "Chart.yaml").read_text())["version"])


def helm_merge(defaults: Any, override: Any) -> Any:
    """Helm's coalescing of a chart's defaults with user values."""
    if not (isinstance(defaults, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    merged = copy.deepcopy(defaults)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(merged.get(key), value)
    return merged


def _kubernetes_definitions(uri: str) -> Resource:
    if not uri.split("#")[0].endswith("_definitions.json"):
        raise NoSuchResource(ref=uri)
    import kubernetes_validate

    folder = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    defs = json.loads((folder / f"v{KUBERNETES_VERSION}-local" / "_definitions.json").read_text())
    # old charts point at `#/definitions/…`, the shipped file keeps them under `$defs`
    body = {"definitions": defs["$defs"], "$defs": defs["$defs"]}
    return Resource.from_contents(body, default_specification=DRAFT7)


def _errors(schema: dict, values: dict, where: str) -> list[str]:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = cls(schema, registry=Registry(retrieve=_kubernetes_definitions))
    out = []
    for error in sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        out.append(f"{where}{path}: {error.message[:300]}")
    return out


def _load(folder: Path) -> tuple[dict, dict]:
    defaults = yaml.safe_load((folder / "values.yaml").read_text()) or {}
    schema = json.loads((folder / "values.schema.json").read_text())
    return defaults, schema


def chart_errors(values: dict[str, Any], chart_dir: Path) -> list[str]:
    """What the official chart at ``chart_dir`` refuses in ``values`` (empty: Helm accepts)."""
    if not (chart_dir / "values.schema.json").exists():
        raise FileNotFoundError(
            f"{chart_dir} is not an unpacked Dagster chart (no values.schema.json): "
            "`helm pull dagster/dagster --version X --untar` and point at its `dagster/` folder"
        )
    defaults, schema = _load(chart_dir)
    merged = helm_merge(defaults, values)
    errors = _errors(schema, merged, "")
    sub_dir = chart_dir / "charts" / SUBCHART
    if (sub_dir / "values.schema.json").exists():
        sub_defaults, sub_schema = _load(sub_dir)
        sub_values = {**merged.get(SUBCHART, {}), "global": merged.get("global", {})}
        errors += _errors(sub_schema, helm_merge(sub_defaults, sub_values), f"{SUBCHART}/")
    return errors

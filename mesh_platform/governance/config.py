"""The governance group's files under ``governance/``, loaded and validated.

Policies are data: the group changes a severity, a pattern or a shared key by editing YAML.
A malformed file fails loudly, naming the file and the field, like a product descriptor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from mesh_platform.core import yaml_io
from mesh_platform.core.descriptor import DescriptorError
from mesh_platform.governance import personal_data as pd
from mesh_platform.governance.report import Severity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@cache
def _regex_checker() -> Any:
    """A private in-memory DuckDB connection (never the process-wide default one)."""
    import duckdb

    return duckdb.connect()


def _valid_regex(value: str) -> str:
    """Valid for Python (static rules) and for DuckDB's RE2 (data-level checks)."""
    import duckdb

    try:
        re.compile(value)
        _regex_checker().execute("select regexp_matches('', ?)", [value]).fetchall()
    except (re.error, duckdb.Error) as exc:
        raise ValueError(f"not a valid regular expression ({exc}): {value!r}") from None
    return value


Regex = Annotated[str, Field(min_length=1), AfterValidator(_valid_regex)]


class Policy(_Strict):
    title: str
    severity: Severity
    why: str


class Team(_Strict):
    contact: str
    domain: str | None = None


class Teams(_Strict):
    contact_domains: list[str]
    teams: dict[str, Team]


class Treatment(_Strict):
    how: str
    value_regex: Regex | None = None


class PersonalData(_Strict):
    column_patterns: dict[str, Regex]
    value_patterns: dict[str, Regex]
    value_scan_sample_rows: Annotated[int, Field(gt=0)]
    treatments: dict[str, Treatment]
    # what a column's type rules out, whatever its name (see governance/personal_data.py)
    numeric_never: list[str] = []
    fractional_never: list[str] = []
    amount_name: Regex | None = None

    def category_of(
        self, column: str, data_type: str | None = None, values: Sequence[Any] | None = None
    ) -> str | None:
        """The personal-data category a column looks like, or None: by its name, unless its
        type (when known) or its sampled values (when given) rule that out; by its values when
        the name says nothing."""
        by_name = None
        for category, pattern in self.column_patterns.items():
            if re.fullmatch(pattern, column.lower()):
                by_name = category
                break
        if by_name and data_type and self._type_rules_out(by_name, column, data_type):
            by_name = None
        if by_name and pd.values_rule_out(by_name, values):
            by_name = None
        if by_name or not values:
            return by_name
        if data_type and pd.is_fractional(data_type):
            return None  # a fractional number is never a card, an e-mail or an address
        return pd.category_of_values(values, self.value_patterns)

    def _type_rules_out(self, category: str, column: str, data_type: str) -> bool:
        if not pd.is_numeric(data_type):
            return False
        if category in self.numeric_never:
            return True
        if pd.is_fractional(data_type) and category in self.fractional_never:
            return True
        return bool(self.amount_name and re.fullmatch(self.amount_name, column.lower()))


class Naming(_Strict):
    port_name: Regex
    port_name_forbidden: Regex
    column_name: Regex
    type_suffixes: dict[str, str] = {}


class SharedKey(_Strict):
    description: str
    data_type: str
    format: Regex | None = None
    owner_domain: str | None = None


class SharedKeys(_Strict):
    keys: dict[str, SharedKey]

    def key_for(self, column: str) -> str | None:
        """The shared key a column stands for: its exact name, or a name ending ``_<key>``."""
        if column in self.keys:
            return column
        for key in sorted(self.keys, key=len, reverse=True):
            if column.endswith(f"_{key}"):
                return key
        return None


FILES = {
    "policies": "policies.yaml",
    "teams": "teams.yaml",
    "personal_data": "personal_data.yaml",
    "naming": "naming.yaml",
    "shared_keys": "shared_keys.yaml",
}


class GovernanceConfig(_Strict):
    policies: dict[str, Policy]
    teams: Teams
    personal_data: PersonalData
    naming: Naming
    shared_keys: SharedKeys

    def severity(self, policy_id: str) -> Severity:
        policy = self.policies.get(policy_id)
        if policy is None:
            raise DescriptorError(
                f"governance policy {policy_id!r} is evaluated by the platform but not declared "
                "in governance/policies.yaml; declare it with a title, severity and why"
            )
        return policy.severity


def _read(path: Path) -> Any:
    if not path.exists():
        raise DescriptorError(
            f"governance file {path} is missing; the governance group keeps it in governance/"
        )
    try:
        return yaml_io.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DescriptorError(f"governance file {path} is not valid YAML: {exc}") from None


def load_governance(governance_dir: Path) -> GovernanceConfig:
    """Read every file of ``governance/``; a bad one raises naming the file and the field."""
    raw: dict[str, Any] = {}
    for key, name in FILES.items():
        data = _read(governance_dir / name)
        raw[key] = data.get("policies") if key == "policies" else data
    try:
        return GovernanceConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"invalid governance configuration in {governance_dir}:"]
        for e in exc.errors():
            loc = list(e["loc"])
            file = FILES.get(str(loc[0]), "?") if loc else "?"
            field = ".".join(str(p) for p in loc[1:]) or "(top level)"
            lines.append(f"  - {file}, field `{field}`: {e['msg']}")
        raise DescriptorError("\n".join(lines)) from None

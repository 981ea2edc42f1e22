"""At publish time, a breaking change against the schema published under the same major
blocks the port (governance check), while a compatible change does not."""

from __future__ import annotations

from dataclasses import replace

from mesh_platform.core.declared_schema import (
    ColumnSchema,
    declared_port_schema,
)
from mesh_platform.governance.runtime import versioning_at_publish
from mesh_platform.ports.records import (
    write_published_schema,
)
from tests.unit.governance.test_runtime_policies import _subject


def test_nothing_published_yet_is_not_a_breaking_change(tmp_path):
    ctx, subject = _subject(tmp_path / "repo")
    assert versioning_at_publish(ctx, subject, tmp_path / "repo", tmp_path / "ports") == []


def test_removed_column_blocks_and_added_column_does_not(tmp_path):
    root, ports = tmp_path / "repo", tmp_path / "ports"
    ctx, subject = _subject(root)
    declared = declared_port_schema(root, subject.product, subject.port)
    # what was published had one more column than is declared now: a column removed
    gone = ColumnSchema(name="discount", data_type="double", nullable=True, description="")
    write_published_schema(ports, replace(declared, columns=(*declared.columns, gone)))
    (finding,) = versioning_at_publish(ctx, subject, root, ports)
    assert finding.policy == "versioning.breaking-change-needs-major"
    assert (finding.domain, finding.product, finding.port) == (
        "shop",
        "daily_widgets",
        "shop.daily_widgets v1",
    )
    assert finding.field == "discount"
    assert "column_removed `discount`" in finding.message
    assert "publish it as v2" in finding.fix
    # the published schema had one column fewer: a column added is not breaking
    write_published_schema(ports, replace(declared, columns=declared.columns[:-1]))
    assert versioning_at_publish(ctx, subject, root, ports) == []

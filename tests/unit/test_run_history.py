"""What the catalog reads from Dagster: a warning is a warning there too, not a failure."""

from __future__ import annotations

import dagster as dg

from mesh_platform.build.run_history import check_executions, materializations


@dg.asset(
    key=["shop", "widgets"],
    check_specs=[
        dg.AssetCheckSpec("warns", asset=["shop", "widgets"]),
        dg.AssetCheckSpec("fails", asset=["shop", "widgets"]),
        dg.AssetCheckSpec("passes", asset=["shop", "widgets"]),
    ],
)
def widgets():
    yield dg.Output(1, metadata={"dagster/row_count": 3})
    warn, error = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR
    yield dg.AssetCheckResult(check_name="warns", passed=False, severity=warn)
    yield dg.AssetCheckResult(check_name="fails", passed=False, severity=error)
    yield dg.AssetCheckResult(check_name="passes", passed=True)


def test_check_executions_tell_warned_failed_and_succeeded_apart():
    with dg.instance_for_test() as instance:
        result = dg.materialize([widgets], instance=instance, raise_on_error=False)
        path = ["shop", "widgets"]
        statuses = {
            name: [e.status for e in check_executions(instance, path, name, 5)]
            for name in ("warns", "fails", "passes")
        }
        assert statuses == {"warns": ["WARNED"], "fails": ["FAILED"], "passes": ["SUCCEEDED"]}
        (done,) = materializations(instance, path, 5)
        assert (done.run_id, done.rows) == (result.run_id, 3)

"""A run over a range of days records the same history when its events are stored in batches.

Real Dagster runs on the embedded default's storage in a temp data dir: a daily-partitioned
asset with a check, materialized over five days in one run, once with Dagster's per-event
writes and once with the batches the mesh turns on (``DAGSTER_EVENT_BATCH_SIZE``) and stores in
one transaction per database (mesh_platform/build/local_event_log.py).
"""

from collections import Counter

import dagster as dg
import pytest

from mesh_platform.build.local_event_log import HostLockedSqliteEventLogStorage

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-06")
KEYS = DAYS.get_partition_keys()
RANGE = {
    "dagster/asset_partition_range_start": KEYS[0],
    "dagster/asset_partition_range_end": KEYS[-1],
}


def _assets(fail: bool) -> list:
    @dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
    def plays(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        if fail:
            raise RuntimeError("the day's files are unreadable")
        return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})

    @dg.asset_check(asset=plays)
    def plays_not_empty() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    return [plays, plays_not_empty]


def _instance(tmp_path, monkeypatch, name: str, batch: bool) -> dg.DagsterInstance:
    from mesh_platform.build.instance import get_instance
    from mesh_platform.core.environment import apply_tool_env

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / name))
    apply_tool_env()
    instance = get_instance()
    if not batch:  # Dagster reads it at every event
        monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    assert isinstance(instance.event_log_storage, HostLockedSqliteEventLogStorage)
    return instance


def _history(instance: dg.DagsterInstance, run_id: str) -> dict:
    storage = instance.event_log_storage
    key = dg.AssetKey("plays")
    logs = instance.all_logs(run_id)
    return {
        "events": Counter(e.dagster_event_type for e in logs if e.is_dagster_event),
        "materialized": storage.get_materialized_partitions(key),
        "attempted_not_materialized": set(
            storage.get_latest_asset_partition_materialization_attempts_without_materializations(
                key
            )
        ),
        "latest_is_this_run": getattr(
            instance.get_latest_materialization_event(key), "run_id", None
        )
        == run_id,
        "checks": len(
            storage.get_asset_check_execution_history(
                dg.AssetCheckKey(key, "plays_not_empty"), limit=10
            )
        ),
    }


@pytest.mark.parametrize("fail", [False, True], ids=["succeeds", "fails"])
def test_batched_events_record_what_per_event_writes_record(tmp_path, monkeypatch, fail):
    batches: list[int] = []
    store_batch = HostLockedSqliteEventLogStorage.store_event_batch

    def counting(self, events):
        batches.append(len(events))
        return store_batch(self, events)

    monkeypatch.setattr(HostLockedSqliteEventLogStorage, "store_event_batch", counting)

    histories = {}
    for batch in (False, True):
        instance = _instance(tmp_path, monkeypatch, f"batch-{batch}", batch)
        result = dg.materialize(_assets(fail), instance=instance, tags=RANGE, raise_on_error=False)
        assert result.success is not fail
        histories[batch] = _history(instance, result.run_id)
        if not batch:
            assert batches == [], "without DAGSTER_EVENT_BATCH_SIZE Dagster writes one by one"

    # the batched run went through store_event_batch: planned events, and the materializations
    assert batches and max(batches) >= len(KEYS)
    assert histories[True] == histories[False]
    plain = histories[False]
    if fail:
        assert plain["materialized"] == set()
        # planned per day, so each day of the failed run shows as failed/in its failed run
        assert plain["attempted_not_materialized"] == set(KEYS)
    else:
        assert plain["materialized"] == set(KEYS)
        assert plain["events"][dg.DagsterEventType.ASSET_MATERIALIZATION] == len(KEYS)
        assert plain["checks"] >= 1  # the check ran (and was recorded per day)
        assert plain["latest_is_this_run"]

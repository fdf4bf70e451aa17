"""A backfill of a range of days is one Dagster run, through the public CLI."""

import os
import subprocess
import sys

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from sparkify_assets.cli.load import run_load
from sparkify_assets.defs.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    InstanceRef,
)

from .builders import DAYS, write_sample
from .conftest import REPO, definitions_for
from .test_s3_source import snapshot

IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'  # one process: faster, same run


def test_a_range_backfill_is_one_run_that_builds_every_table(warehouse, database_url, tmp_path):
    data = write_sample(tmp_path / "data")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = os.environ | {
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "SPARKIFY_DATA_URI": str(data),
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": str(REPO),
    }

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "sparkify_assets.definitions",
            "--select",
            "*",
            "--partition-range",
            f"{DAYS[0]}...{DAYS[-1]}",
            "--config-json",
            IN_PROCESS,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        assert (
            run.tags[ASSET_PARTITION_RANGE_START_TAG],
            run.tags[ASSET_PARTITION_RANGE_END_TAG],
        ) == ("2018-11-01", "2018-11-03")
        days = {day.isoformat() for day in DAYS}
        assert instance.get_materialized_partitions(AssetKey("staging_events")) == days
        for daily in ("songplays", "time", "user_latest_by_day"):
            assert instance.get_materialized_partitions(AssetKey(daily)) == days
        # The unpartitioned tables ran in the same run, after the days: each materialized once.
        for dimension in ("users", "songs", "artists", "top_songs"):
            (record,) = instance.fetch_materializations(AssetKey(dimension), limit=10).records
            assert record.run_id == run.run_id
    backfilled = snapshot(warehouse)
    assert len(backfilled["staging_events"]) == 3 * 43 and len(backfilled["songplays"]) == 3 * 43

    # The same days through `sparkify load` leave exactly the same tables (and prove the
    # backfill idempotent: it ran over the same database).
    report = run_load(definitions_for(warehouse, data), str(data))
    assert report.ok, report.failures
    assert snapshot(warehouse) == backfilled


@pytest.mark.slow  # drives Dagster's backfill daemon end to end
def test_a_dagster_asset_backfill_never_splits_the_range_into_days(
    warehouse, database_url, tmp_path
):
    """What the UI's "Materialize all" over a range does, driven through the backfill daemon's
    own iteration in a test instance: each daily asset takes the whole range in one run, and
    the dimensions run after the days they depend on."""
    import logging
    import time

    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, instance_for_test
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._daemon.backfill import execute_backfill_iteration

    data = write_sample(tmp_path / "data")
    location = tmp_path / "location.py"  # the code location, bound to this test's database
    location.write_text(
        "from sparkify_assets.defs.location import build_definitions\n"
        "from sparkify_assets.defs.resources import SparkifySource\n"
        "from sparkify_assets.warehouse.postgres import PostgresWarehouse\n"
        f"defs = build_definitions({{'warehouse': PostgresWarehouse(url={database_url!r}),\n"
        f"                           'source': SparkifySource(uri={str(data)!r})}})\n"
    )
    synchronous = {
        "run_launcher": {
            "module": "dagster._core.launcher.sync_in_memory_run_launcher",
            "class": "SyncInMemoryRunLauncher",
        },
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "DefaultRunCoordinator",
        },
    }
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(location), working_directory=str(REPO))
    )
    with (
        instance_for_test(overrides=synchronous) as instance,
        WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as workspace,
    ):
        asset_graph = workspace.create_request_context().asset_graph
        instance.add_backfill(
            PartitionBackfill.from_asset_partitions(
                backfill_id="november",
                asset_graph=asset_graph,
                partition_names=[day.isoformat() for day in DAYS],
                asset_selection=list(asset_graph.materializable_asset_keys),
                backfill_timestamp=time.time(),
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config={"execution": {"config": {"in_process": {}}}},
            )
        )
        for _ in range(6):  # each iteration launches what has become ready
            list(execute_backfill_iteration(workspace, logging.getLogger("backfill")))

        records = sorted(instance.get_run_records(), key=lambda record: record.create_timestamp)
        runs = [record.dagster_run for record in records]
        assert instance.get_backfill("november").status.value == "COMPLETED_SUCCESS"
        assert {run.status for run in runs} == {DagsterRunStatus.SUCCESS}
        assert not any("dagster/partition" in run.tags for run in runs)  # no run per day

        def position(asset: str) -> int:
            (index,) = [i for i, run in enumerate(runs) if AssetKey(asset) in run.asset_selection]
            return index

        for daily in ("staging_events", "songplays", "time"):
            run = runs[position(daily)]
            assert (
                run.tags[ASSET_PARTITION_RANGE_START_TAG],
                run.tags[ASSET_PARTITION_RANGE_END_TAG],
            ) == ("2018-11-01", "2018-11-03")
        assert position("staging_events") < position("songplays") <= position("time")
        assert position("staging_events") <= position("user_latest_by_day") < position("users")
    assert warehouse.row_counts()["songplays"] == 3 * 43

"""A backfill of a range of days is one Dagster run, through the public CLI."""

import os
import subprocess
import sys

from dagster import AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from sparkify_assets.load import run_load

from .conftest import REPO, definitions_for
from .sample_files import DAYS, write_sample
from .test_s3_source import snapshot

IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'  # one process: faster, same run


def test_a_range_backfill_is_one_run_that_builds_every_table(warehouse, database_url, tmp_path):
    data = write_sample(tmp_path / "data")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = os.environ | {
        "SPARKIFY_WAREHOUSE_URL": database_url, "SPARKIFY_DATA_URI": str(data),
        "DAGSTER_HOME": str(dagster_home), "PYTHONPATH": str(REPO),
    }

    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
         "sparkify_assets", "--select", "*",
         "--partition-range", f"{DAYS[0]}...{DAYS[-1]}", "--config-json", IN_PROCESS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        assert (run.tags[ASSET_PARTITION_RANGE_START_TAG],
                run.tags[ASSET_PARTITION_RANGE_END_TAG]) == ("2018-11-01", "2018-11-03")
        days = {day.isoformat() for day in DAYS}
        assert instance.get_materialized_partitions(AssetKey("staging_events")) == days
        assert instance.get_materialized_partitions(AssetKey("songplays")) == days
        # The dimensions ran in the same run, after the days: each materialized once.
        for dimension in ("users", "songs", "artists", "time"):
            (record,) = instance.fetch_materializations(AssetKey(dimension), limit=10).records
            assert record.run_id == run.run_id
    backfilled = snapshot(warehouse)
    assert len(backfilled["staging_events"]) == 3 * 43 and len(backfilled["songplays"]) == 3 * 43

    # The same days through `sparkify load` leave exactly the same tables (and prove the
    # backfill idempotent: it ran over the same database).
    report = run_load(definitions_for(warehouse, data), str(data))
    assert report.ok, report.failures
    assert snapshot(warehouse) == backfilled

"""deploy/dagster.yaml: the production instance example loads, with step logs going to S3."""

from __future__ import annotations

import shutil

import pytest
from dagster import DagsterInstance
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

from .conftest import REPO


@pytest.fixture
def production_home(tmp_path, moto_s3, monkeypatch):
    shutil.copy(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    moto_s3.create_bucket(Bucket="sparkify-dagster-logs")
    monkeypatch.setenv("SPARKIFY_COMPUTE_LOG_BUCKET", "sparkify-dagster-logs")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return tmp_path


def test_the_production_instance_sends_step_logs_to_s3(production_home, moto_s3):
    with DagsterInstance.from_config(str(production_home)) as instance:
        manager = instance.compute_log_manager
        assert isinstance(manager, S3ComputeLogManager)
        assert manager._s3_bucket == "sparkify-dagster-logs"
        # A step's captured log is uploaded under the configured prefix.
        key = ["sparkify", "run-1", "staging_events"]
        with manager.open_log_stream(key, ComputeIOType.STDOUT) as stream:
            stream.write("loaded 2018-11-01\n")
        (uploaded,) = moto_s3.list_objects_v2(Bucket="sparkify-dagster-logs")["Contents"]
        assert uploaded["Key"] == "sparkify/compute-logs/storage/sparkify/run-1/staging_events.out"
        body = moto_s3.get_object(Bucket="sparkify-dagster-logs", Key=uploaded["Key"])["Body"]
        assert body.read() == b"loaded 2018-11-01\n"
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"  # queued runs

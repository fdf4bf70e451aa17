"""Runs a killed `sparkify load` left STARTED are failed by the next load and stop blocking it."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from sparkify_assets.cli.stale_runs import HOST_TAG, PID_TAG, fail_stale_runs, process_tags
from sparkify_assets.defs.assets.common import WAREHOUSE_POOL

from .conftest import REPO

JOB = "load_everything"


def _tags_of_a_finished_process() -> dict[str, str]:
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from sparkify_assets.cli.stale_runs import "
            "process_tags; print(json.dumps(process_tags()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(printed.stdout)


def _started_run(instance, tags: dict[str, str], job: str = JOB) -> str:
    run = DagsterRun(
        job_name=job, run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED, tags=tags
    )
    instance.add_run(run)
    return run.run_id


def _status(instance, run_id: str) -> DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def test_only_runs_whose_process_is_gone_are_failed_and_their_slots_freed(tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        dead = _started_run(instance, _tags_of_a_finished_process())
        alive = _started_run(instance, process_tags())
        reused_pid = _started_run(instance, process_tags() | {"sparkify/process_started": "1.00"})
        elsewhere = _started_run(instance, _tags_of_a_finished_process() | {HOST_TAG: "other"})
        other_job = _started_run(instance, _tags_of_a_finished_process(), job="another_job")
        untagged = _started_run(instance, {})
        storage = instance.event_log_storage
        storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
        storage.claim_concurrency_slot(WAREHOUSE_POOL, dead, "staging_events")
        assert storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids == {dead}

        assert sorted(fail_stale_runs(instance, JOB)) == sorted([dead, reused_pid])

        assert _status(instance, dead) == _status(instance, reused_pid) == DagsterRunStatus.FAILURE
        for run_id in (alive, elsewhere, other_job, untagged):
            assert _status(instance, run_id) == DagsterRunStatus.STARTED
        assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 0
        failure = instance.all_logs(dead)[-1]
        assert "is gone" in failure.message
        assert fail_stale_runs(instance, JOB) == []  # nothing left to do the second time


@pytest.mark.slow
def test_a_load_is_not_blocked_by_the_pool_slot_a_killed_load_still_holds(
    tmp_path, database_url, small_data
):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        stale = _started_run(instance, _tags_of_a_finished_process())
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
        instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, stale, "staging_events")

    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "SPARKIFY_DATA_URI": str(small_data),
    }
    # Without the clean-up, the load's first step would wait for that slot for ever.
    completed = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "load"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"marked failed: run {stale}" in completed.stdout

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert _status(instance, stale) == DagsterRunStatus.FAILURE
        (latest,) = [r for r in instance.get_runs() if r.run_id != stale]
        assert latest.status == DagsterRunStatus.SUCCESS
        assert latest.tags[PID_TAG] != instance.get_run_by_id(stale).tags[PID_TAG]


def test_the_project_instance_monitors_runs_and_frees_the_slots_of_failed_ones(tmp_path):
    # Copied, so that loading the instance does not create its databases in the repository.
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert 3600 <= instance.run_monitoring_max_runtime_seconds <= 24 * 3600
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0

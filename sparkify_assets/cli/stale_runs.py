"""Runs of ``sparkify load`` that a killed process left in STARTED state.

``sparkify load`` executes its run in its own process. When that process dies without a word
(kill -9, out of memory, a closed laptop lid that never reopens), the run stays STARTED in
DAGSTER_HOME for ever: the UI shows it as running, and the concurrency-pool slots its steps held
stay claimed, so with a pool limit set later runs would wait for them for ever. Nothing in Dagster
can tell, because no run launcher or daemon owns a run executed in-process.

So each run is tagged with the host, pid and start time of the process executing it. Before a new
load, the runs whose process is gone are marked failed and their slots freed.
"""

from __future__ import annotations

import socket

import psutil
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

HOST_TAG = "sparkify/host"
PID_TAG = "sparkify/pid"
PROCESS_STARTED_TAG = "sparkify/process_started"
UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _started(process: psutil.Process) -> str:
    return f"{process.create_time():.2f}"


def process_tags() -> dict[str, str]:
    """Tags that identify the process executing a run (see the module docstring)."""
    me = psutil.Process()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(me.pid), PROCESS_STARTED_TAG: _started(me)}


def _process_is_gone(tags: dict[str, str]) -> bool:
    try:
        process = psutil.Process(int(tags[PID_TAG]))
        # A pid is reused sooner or later: the same pid started at another time is another process.
        return _started(process) != tags.get(PROCESS_STARTED_TAG)
    except (psutil.NoSuchProcess, KeyError, ValueError):
        return True


def fail_stale_runs(instance: DagsterInstance, job_name: str) -> list[str]:
    """Mark this host's unfinished runs of ``job_name`` whose process is gone as failed."""
    records = instance.get_run_records(
        RunsFilter(job_name=job_name, statuses=UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    failed = []
    for record in records:
        run = record.dagster_run
        if not _process_is_gone(run.tags):
            continue
        instance.report_run_failed(
            run,
            f"Marked failed by a later `sparkify load`: process {run.tags.get(PID_TAG)} that ran "
            "it is gone (killed or crashed). Its writes were rolled back or were complete; "
            "the later load replaces them.",
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed

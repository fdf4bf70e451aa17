"""The Redshift lifecycle as Dagster jobs, and the opt-in sensor that pauses an idle cluster.

The ops call the ``redshift`` resource (``defs.redshift.RedshiftResource``), the same object the
runs connect through and ``sparkify cluster`` uses. Every pause and resume is recorded as an
observation of ``redshift_cluster`` (its state and the hours it ran or slept) and as the op's
output metadata.

``redshift_idle_pause`` (stopped by default) pauses the cluster after
``pause_after_idle_minutes`` with no run: never while a run is queued or in progress, and the
pause op checks that again just before pausing. The next run resumes the cluster on demand.
"""

import time

from dagster import (
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)
from pydantic import Field

from sparkify_assets.defs.redshift import RedshiftResource, record_lifecycle
from sparkify_assets.ops.lifecycle import AVAILABLE, ClusterInfo, seconds_of, timestamp

# Runs that use (or are about to use) the cluster: the idle sensor never pauses under them.
BUSY = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
IDLE_SENSOR_SECONDS = 300
# Recent finished runs the sensor looks at for the last one to end.
RECENT_RUNS = 25


class ClusterUpConfig(Config):
    ingress_cidr: str | None = Field(
        default=None,
        description="CIDR allowed to reach tcp/5439, e.g. your IP as a.b.c.d/32. "
        "Leave empty to open nothing; 0.0.0.0/0 is refused.",
    )


class ClusterDownConfig(Config):
    final_snapshot_id: str | None = Field(
        default=None, description="Take a final snapshot with this id before deleting."
    )


class ClusterPauseConfig(Config):
    only_if_idle: bool = Field(
        default=False, description="Skip the pause if another run is queued or in progress."
    )


def _report(context: OpExecutionContext, info: ClusterInfo) -> ClusterInfo:
    context.log.info(info.summary())
    context.add_output_metadata(info.as_metadata())
    record_lifecycle(context.instance, info)
    return info


def busy_runs(instance, but: str | None = None) -> list[str]:
    """Ids of the runs queued or in progress, except ``but``."""
    records = instance.get_run_records(RunsFilter(statuses=BUSY), limit=RECENT_RUNS)
    return [record.dagster_run.run_id for record in records if record.dagster_run.run_id != but]


@op(description="Create (or reuse) the Redshift cluster or Serverless workgroup and its S3 role.")
def bring_up_redshift_cluster(
    context: OpExecutionContext, config: ClusterUpConfig, redshift: RedshiftResource
) -> ClusterInfo:
    return _report(context, redshift.up(config.ingress_cidr))


@op(description="Delete the Redshift cluster (or workgroup), its security group and its IAM role.")
def tear_down_redshift_cluster(
    context: OpExecutionContext, config: ClusterDownConfig, redshift: RedshiftResource
) -> ClusterInfo:
    return _report(context, redshift.down(config.final_snapshot_id))


@op(description="Pause the Redshift cluster to stop paying for compute.")
def pause_redshift_cluster(
    context: OpExecutionContext, config: ClusterPauseConfig, redshift: RedshiftResource
) -> ClusterInfo:
    if config.only_if_idle:
        busy = busy_runs(context.instance, but=context.run_id)
        if busy:
            context.log.info(f"Not pausing: run(s) {', '.join(busy)} use the cluster.")
            return _report(context, redshift.status())
    return _report(context, redshift.pause(context.log))


@op(description="Resume the paused Redshift cluster.")
def resume_redshift_cluster(context: OpExecutionContext, redshift: RedshiftResource) -> ClusterInfo:
    return _report(context, redshift.resume(context.log))


@job(description="Bring the Sparkify Redshift cluster (or Serverless workgroup) up (idempotent).")
def redshift_cluster_up() -> None:
    bring_up_redshift_cluster()


@job(description="Tear the Sparkify Redshift cluster and its IAM role down (idempotent).")
def redshift_cluster_down() -> None:
    tear_down_redshift_cluster()


@job(description="Pause the Sparkify Redshift cluster.")
def redshift_cluster_pause() -> None:
    pause_redshift_cluster()


@job(description="Resume the Sparkify Redshift cluster.")
def redshift_cluster_resume() -> None:
    resume_redshift_cluster()


CLUSTER_JOBS = (
    redshift_cluster_up,
    redshift_cluster_down,
    redshift_cluster_pause,
    redshift_cluster_resume,
)


def _last_run_end(instance) -> float | None:
    finished = [
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.FAILURE,
        DagsterRunStatus.CANCELED,
    ]
    records = instance.get_run_records(RunsFilter(statuses=finished), limit=RECENT_RUNS)
    ends = [record.end_time for record in records if record.end_time is not None]
    return max(ends, default=None)


def idle_pause_sensor(clock=time.time):
    """The idle sensor; tests pass a clock that runs ahead to compress the idle time."""

    @sensor(
        name="redshift_idle_pause",
        job_name=redshift_cluster_pause.name,
        minimum_interval_seconds=IDLE_SENSOR_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description="Pause the provisioned Redshift cluster after pause_after_idle_minutes with "
        "no run, never while a run is queued or in progress (opt-in).",
    )
    def redshift_idle_pause(context: SensorEvaluationContext, redshift: RedshiftResource):
        if redshift.serverless:
            return SkipReason("Redshift Serverless has no pause (it bills only while it works)")
        busy = busy_runs(context.instance)
        if busy:
            return SkipReason(f"run(s) {', '.join(busy)} in progress: not pausing")
        info = redshift.status()
        if info.status != AVAILABLE:
            context.update_cursor(None)
            return SkipReason(f"{info.subject} is {info.status}: nothing to pause")
        now = clock()
        # Idle since the last run ended or the cluster became available, whichever is later;
        # when neither is known, since this sensor first saw it available (kept in the cursor).
        seen = seconds_of(context.cursor) or now
        context.update_cursor(context.cursor or timestamp(now))
        marks = [_last_run_end(context.instance), seconds_of(info.available_since)]
        idle_since = max([mark for mark in marks if mark is not None], default=seen)
        idle_minutes = (now - idle_since) / 60
        if idle_minutes < redshift.pause_after_idle_minutes:
            return SkipReason(
                f"{info.subject} idle {idle_minutes:.0f} of "
                f"{redshift.pause_after_idle_minutes} minutes"
            )
        return RunRequest(
            run_key=f"idle-pause-{int(idle_since)}",
            run_config={"ops": {"pause_redshift_cluster": {"config": {"only_if_idle": True}}}},
            tags={"sparkify/idle_minutes": f"{idle_minutes:.0f}"},
        )

    return redshift_idle_pause


redshift_idle_pause = idle_pause_sensor()

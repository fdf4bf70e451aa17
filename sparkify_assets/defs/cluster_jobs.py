"""The cluster lifecycle as Dagster jobs: up, pause, resume and down from the UI.

The ops call the same ``ops.cluster.RedshiftCluster`` the CLI does. Its master password reaches
the run as ``EnvVar("REDSHIFT_PASSWORD")``: Dagster resolves it when the run starts and never
shows it. The rest of the cluster's shape is read from the environment at that moment too, so
loading the code location reads nothing.
"""

from dagster import (
    Config,
    ConfigurableResource,
    InitResourceContext,
    OpExecutionContext,
    ResourceParam,
    job,
    op,
)
from pydantic import Field

from sparkify_assets.defs.resources import secret_from_env
from sparkify_assets.ops.cluster import ClusterInfo, RedshiftCluster


class RedshiftClusterResource(ConfigurableResource):
    """The Sparkify cluster described by SPARKIFY_CLUSTER_*, REDSHIFT_* and AWS_REGION."""

    master_password: str = Field(
        default="", description="EnvVar('REDSHIFT_PASSWORD'); only needed to create the cluster."
    )

    def create_resource(self, context: InitResourceContext) -> RedshiftCluster:
        return RedshiftCluster.from_env(master_password=self.master_password)


def cluster_resource() -> RedshiftClusterResource:
    # Every deployment gets the cluster jobs, so a laptop can bring the production cluster up.
    # The password only matters to `up`; without it the other jobs still work.
    return RedshiftClusterResource(master_password=secret_from_env("REDSHIFT_PASSWORD"))


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


def _report(context: OpExecutionContext, info: ClusterInfo) -> ClusterInfo:
    context.log.info(info.summary())
    context.add_output_metadata(info.as_metadata())
    return info


@op(description="Create (or reuse) the Redshift cluster and its read-only S3 role.")
def bring_up_redshift_cluster(
    context: OpExecutionContext, config: ClusterUpConfig, cluster: ResourceParam[RedshiftCluster]
) -> ClusterInfo:
    return _report(context, cluster.up(config.ingress_cidr))


@op(description="Delete the Redshift cluster, its security group and its IAM role.")
def tear_down_redshift_cluster(
    context: OpExecutionContext, config: ClusterDownConfig, cluster: ResourceParam[RedshiftCluster]
) -> ClusterInfo:
    return _report(context, cluster.down(config.final_snapshot_id))


@op(description="Pause the Redshift cluster to stop paying for compute.")
def pause_redshift_cluster(
    context: OpExecutionContext, cluster: ResourceParam[RedshiftCluster]
) -> ClusterInfo:
    return _report(context, cluster.pause())


@op(description="Resume the paused Redshift cluster.")
def resume_redshift_cluster(
    context: OpExecutionContext, cluster: ResourceParam[RedshiftCluster]
) -> ClusterInfo:
    return _report(context, cluster.resume())


@job(description="Bring the Sparkify Redshift cluster up (idempotent).")
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

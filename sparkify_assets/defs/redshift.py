"""The one Redshift resource: configuration the UI shows, connections for runs, and the lifecycle.

``RedshiftResource`` is what the Resources page shows for Redshift: the cluster or Serverless
workgroup, host and port (when not looked up), database and user, region, the role COPY
assumes, the JSONPaths URI and the auth mode. The password (password mode, or a cluster's master
password for ``up``) is an ``EnvVar``. The same object

* hands runs their warehouse (``warehouse()``): in ``iam`` mode each connection logs in with
  temporary credentials, renewed before they expire; a paused cluster is resumed first
  (``resume_on_demand``), and the resume is recorded as an observation of ``redshift_cluster``;
* owns the lifecycle: ``up``, ``status``, ``pause``, ``resume``, ``down`` (the cluster jobs and
  ``sparkify cluster`` call these), and the least-privilege policy of the loading identity.

The work is done below the Dagster layer: ``ops/`` (cluster, Serverless, credentials) and
``warehouse/redshift.py`` (the connection); this module only wires them together.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from dagster import (
    AssetKey,
    AssetObservation,
    ConfigurableResource,
    DagsterInstance,
)
from pydantic import Field

from sparkify_assets.core import settings
from sparkify_assets.defs.env import secret_from_env
from sparkify_assets.defs.env import value_of as _value
from sparkify_assets.ops.aws_clients import AwsClients
from sparkify_assets.ops.aws_errors import ClusterError
from sparkify_assets.ops.cluster import DEFAULT_CLUSTER_ID, RedshiftCluster
from sparkify_assets.ops.credentials import (
    RunLogin,
    TemporaryCredentials,
    cluster_credentials,
    serverless_credentials,
)
from sparkify_assets.ops.lifecycle import AVAILABLE, ClusterInfo, Progress
from sparkify_assets.ops.serverless import RedshiftServerless
from sparkify_assets.ops.target import DEFAULT_ROLE_NAME, data_location

# Lifecycle changes (resumes, pauses) are observations of this asset key: one history per
# deployment, in the asset catalog, whichever run or sensor caused them.
CLUSTER_ASSET = AssetKey("redshift_cluster")
POLL_SECONDS = 30


def record_lifecycle(instance: DagsterInstance | None, info: ClusterInfo) -> None:
    """Record a resume or a pause (its state and the hours it ran or slept) as metadata."""
    if instance is not None and info.event is not None:
        observation = AssetObservation(
            asset_key=CLUSTER_ASSET, description=info.summary(), metadata=info.as_metadata()
        )
        instance.report_runless_asset_event(observation)


class RedshiftResource(ConfigurableResource):
    """Amazon Redshift, provisioned or Serverless: the connection of runs and the lifecycle."""

    cluster_identifier: str = Field(
        default=DEFAULT_CLUSTER_ID, description="Provisioned cluster (SPARKIFY_CLUSTER_ID)."
    )
    workgroup: str = Field(
        default="", description="Serverless workgroup (REDSHIFT_WORKGROUP); set, it wins."
    )
    namespace: str = Field(default="", description="Serverless namespace (REDSHIFT_NAMESPACE).")
    host: str = Field(
        default="", description="Endpoint host (REDSHIFT_HOST); empty: looked up from AWS."
    )
    port: int = Field(default=settings.REDSHIFT_DEFAULT_PORT, description="REDSHIFT_PORT")
    database: str = Field(
        default=settings.REDSHIFT_DEFAULT_DATABASE, description="REDSHIFT_DATABASE"
    )
    user: str = Field(
        default="",
        description="Database user (REDSHIFT_USER). IAM mode on a cluster: GetClusterCredentials "
        "for this user; empty, GetClusterCredentialsWithIAM logs in as the IAM identity.",
    )
    region: str = Field(default="", description="AWS_REGION: the cluster's and COPY's region.")
    iam_role_arn: str = Field(default="", description="Role COPY assumes to read S3.")
    log_jsonpath: str = Field(default="", description="s3:// URI of the JSONPaths file.")
    auth: Literal["iam", "password"] = Field(
        default="iam", description="iam: temporary credentials per run; password: the password."
    )
    password: str = Field(
        default="",
        description="EnvVar('REDSHIFT_PASSWORD'): password mode's password, and the master "
        "password `up` gives a new cluster.",
    )
    db_groups: list[str] = Field(default=[], description="Groups GetClusterCredentials joins.")
    auto_create_user: bool = Field(default=False, description="GetClusterCredentials AutoCreate.")
    credential_minutes: int = Field(default=60, ge=15, le=60, description="Credentials' life.")
    resume_on_demand: bool = Field(
        default=True, description="A run resumes a paused cluster and waits for it."
    )
    resume_wait_minutes: int = Field(default=settings.DEFAULT_RESUME_WAIT_MINUTES, ge=1)
    pause_after_idle_minutes: int = Field(
        default=settings.DEFAULT_IDLE_MINUTES,
        ge=1,
        description="The idle sensor (off by default) pauses after this long with no run.",
    )
    load_errors_view: str = Field(default="", description="REDSHIFT_LOAD_ERRORS_VIEW")
    max_reject_share: float = settings.DEFAULT_MAX_REJECT_SHARE
    drift_sample_lines: int = Field(
        default=0,
        description="SPARKIFY_DRIFT_SAMPLE_LINES: first lines of each day file read "
        "from S3 for unknown keys (docs/source-drift.md); 0 reads none",
    )
    data_uri: str = Field(default="", description="s3:// data the S3 role may read (`up`).")
    role_name: str = Field(default=DEFAULT_ROLE_NAME, description="S3 role `up` creates.")
    node_type: str = Field(default="ra3.large", description="Node type `up` creates.")
    node_count: int = Field(default=1, ge=1, description="Nodes `up` creates.")

    @property
    def serverless(self) -> bool:
        return bool(self.workgroup)

    # --- the lifecycle (ops/) ------------------------------------------------------------------
    def target(self) -> RedshiftCluster | RedshiftServerless:
        bucket, prefix = data_location(self.data_uri)
        shared: dict[str, Any] = {
            "role_name": self.role_name,
            "database": self.database,
            "region": self.region or None,
            "data_bucket": bucket,
            "data_prefix": prefix,
            "poll_seconds": POLL_SECONDS,
            "max_wait_attempts": self.resume_wait_minutes * 60 // max(POLL_SECONDS, 1),
        }
        if self.serverless:
            return RedshiftServerless(
                namespace=self.namespace or self.workgroup, workgroup=self.workgroup, **shared
            )
        master = _value(self.password) if self.auth == "password" else ""
        return RedshiftCluster(
            cluster_id=self.cluster_identifier,
            node_type=self.node_type,
            node_count=self.node_count,
            master_user=self.user or "sparkify_admin",
            master_password=master,
            manage_master_password=self.auth == "iam",
            **shared,
        )

    def up(self, ingress_cidr: str | None = None, *, allow_world: bool = False) -> ClusterInfo:
        return self.target().up(ingress_cidr, allow_world=allow_world)

    def status(self) -> ClusterInfo:
        return self.target().status()

    def pause(self, progress: Progress | None = None) -> ClusterInfo:
        return self.target().pause(progress)

    def resume(self, progress: Progress | None = None) -> ClusterInfo:
        return self.target().resume(progress)

    def down(self, final_snapshot_id: str | None = None) -> ClusterInfo:
        return self.target().down(final_snapshot_id)

    def loading_policy(self) -> dict[str, Any]:
        """The least-privilege IAM policy of the identity that runs the loads (IAM auth)."""
        target = self.target()
        if isinstance(target, RedshiftServerless):
            return target.loading_policy()
        return target.loading_policy(
            self.user, db_groups=tuple(self.db_groups), auto_create=self.auto_create_user
        )

    # --- the connection (warehouse/) -----------------------------------------------------------
    def check(self) -> None:
        """Refuse, naming the variables, a configuration a run cannot connect with."""
        needed = {
            "REDSHIFT_IAM_ROLE_ARN": self.iam_role_arn,
            "AWS_REGION": self.region,
            "SPARKIFY_LOG_JSONPATH": self.log_jsonpath,
        }
        if self.auth == "password":
            needed["REDSHIFT_HOST"] = self.host or self.resume_on_demand
            needed["REDSHIFT_USER"] = self.user
            needed["REDSHIFT_PASSWORD"] = _value(self.password)
        missing = [name for name, value in needed.items() if not value]
        if missing:
            raise settings.SettingsError(
                f"the Redshift deployment needs {', '.join(missing)} "
                "(see docs/redshift.md, Deploy to Redshift)"
            )
        settings.check_copy_settings(self.iam_role_arn, self.log_jsonpath)
        if self.serverless and self.load_errors_view == "stl_load_errors":
            raise settings.SettingsError(
                "REDSHIFT_LOAD_ERRORS_VIEW=stl_load_errors does not exist on Redshift Serverless: "
                "leave it unset (sys_load_error_detail)"
            )

    def credentials(self, aws: AwsClients) -> TemporaryCredentials:
        seconds = self.credential_minutes * 60
        if self.serverless:
            return serverless_credentials(aws, self.workgroup, self.database, seconds)
        return cluster_credentials(
            aws,
            self.cluster_identifier,
            self.database,
            self.user,
            auto_create=self.auto_create_user,
            db_groups=tuple(self.db_groups),
            duration_seconds=seconds,
        )

    def login(
        self,
        progress: Progress | None = None,
        instance: DagsterInstance | None = None,
        clock=time.time,
    ) -> RunLogin:
        """What each connection of one run logs in with (see ``ops.credentials.RunLogin``)."""
        target = self.target()
        aws = AwsClients(self.region or None)
        if self.resume_on_demand or (self.auth == "iam" and self.serverless):
            available = target.ensure_available
        elif not self.host:

            def available(progress: Progress) -> ClusterInfo:  # only look the endpoint up
                info = target.status()
                if info.status != AVAILABLE:
                    raise ClusterError(
                        f"cannot connect to {info.subject}: it is {info.status} and "
                        "resume_on_demand is off (SPARKIFY_REDSHIFT_RESUME); run "
                        "`sparkify cluster resume`"
                    )
                return info

        else:
            available = None
        return RunLogin(
            host=self.host,
            port=self.port,
            user=self.user,
            password=_value(self.password) if self.auth == "password" else "",
            available=available,
            credentials=(lambda: self.credentials(aws)) if self.auth == "iam" else None,
            on_resumed=lambda info: record_lifecycle(instance, info),
            progress=progress,
            clock=clock,
        )

    def warehouse(
        self,
        progress: Progress | None = None,
        instance: DagsterInstance | None = None,
        clock=time.time,
    ):
        """The run's ``RedshiftWarehouse``; nothing connects until its first statement."""
        from sparkify_assets.warehouse.redshift import RedshiftWarehouse, load_errors_view

        self.check()
        return RedshiftWarehouse(
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            iam_role_arn=self.iam_role_arn,
            region=self.region,
            log_jsonpath=self.log_jsonpath,
            load_errors_view=load_errors_view(self.load_errors_view),
            max_reject_share=self.max_reject_share,
            drift_sample_lines=self.drift_sample_lines,
            login_source=self.login(progress, instance, clock),
        )


def redshift_resource() -> RedshiftResource:
    """The resource the environment describes (read when the code location loads)."""
    return RedshiftResource(
        **settings.redshift_resource(),
        password=secret_from_env("REDSHIFT_PASSWORD"),
        max_reject_share=settings.max_reject_share(),
        drift_sample_lines=settings.drift_sample_lines(),
        data_uri=settings.data_uri(),
        **{
            field: value
            for field, value in settings.cluster_overrides().items()
            if field in ("role_name", "node_type", "node_count")
        },
    )

"""Lifecycle of the Amazon Redshift cluster that hosts the Sparkify warehouse (plain boto3).

The ``redshift`` resource (``defs.redshift``) builds one for ``sparkify cluster``, the cluster
jobs and each run's connection; Serverless is ``serverless``. What both share is in ``target``,
the role in ``iam``, the network in ``network``, and what a failure means in ``aws_errors``.

Security posture:
* the cluster's IAM role can only *read* S3, and only the Sparkify data bucket/prefix when one
  is configured;
* nothing is opened to the network unless the caller names a CIDR (see ``network``);
* the master password is excluded from every repr, log line and error message, and with IAM
  auth there is none to handle (AWS keeps it: ``manage_master_password``).

A run resumes a paused cluster before it connects (``ensure_available``); each resume and pause
tags the cluster with its time, so the hours it ran or slept can be told (``lifecycle``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from pydantic import Field

from sparkify_assets.core import settings
from sparkify_assets.ops.aws_clients import AwsClients as _Clients
from sparkify_assets.ops.aws_errors import (
    ClusterError,
    error_code,
    secret_masked_in_wire_log,
)
from sparkify_assets.ops.iam import cluster_loading_policy
from sparkify_assets.ops.lifecycle import (
    ABSENT,
    AVAILABLE,
    AVAILABLE_SINCE_TAG,
    PAUSED_SINCE_TAG,
    ClusterInfo,
    Progress,
    hours_since,
    progress_or_default,
    tag_value,
    timestamp,
)
from sparkify_assets.ops.network import (
    open_cidrs,
    parse_ingress,
    security_group_of,
)
from sparkify_assets.ops.target import RedshiftTarget, data_location

logger = logging.getLogger(__name__)

DEFAULT_CLUSTER_ID = "sparkify"
DEFAULT_NODE_TYPE = "ra3.large"
DEFAULT_MASTER_USER = "sparkify_admin"


# Waiter polls between two "still waiting" lines (10 x 30 s: one line every five minutes).
PROGRESS_POLLS = 10


class RedshiftCluster(RedshiftTarget):
    """Creates, inspects, pauses, resumes and deletes the Sparkify Redshift cluster."""

    cluster_id: str = DEFAULT_CLUSTER_ID
    node_type: str = DEFAULT_NODE_TYPE
    node_count: int = Field(default=1, ge=1, description="1 means a single-node cluster.")
    master_user: str = DEFAULT_MASTER_USER
    master_password: str = Field(
        default="", repr=False, description="Only needed to create the cluster."
    )
    manage_master_password: bool = Field(
        default=False,
        description="Without a master password, create the cluster with one that AWS keeps in "
        "Secrets Manager (ManageMasterPassword): nobody handles it; IAM auth logs in.",
    )

    @classmethod
    def from_env(cls, master_password: str | None = None) -> RedshiftCluster:
        """The cluster the SPARKIFY_CLUSTER_*/REDSHIFT_*/AWS_REGION variables describe.

        The Dagster resource passes the password it resolved from ``EnvVar``; the CLI lets it
        be read here.
        """
        if master_password is None:
            master_password = os.environ.get("REDSHIFT_PASSWORD", "")
        bucket, prefix = data_location(settings.data_uri())
        return cls(
            **settings.cluster_overrides(),
            master_password=master_password,
            data_bucket=bucket,
            data_prefix=prefix,
        )

    # ----------------------------------------------------------------------- public lifecycle

    def up(self, ingress_cidr: str | None = None, *, allow_world: bool = False) -> ClusterInfo:
        """Make the cluster exist and be available; open TCP 5439 to `ingress_cidr` only.

        Safe to repeat: an existing role, cluster, security group or rule is reused.
        """
        # Validate before touching AWS so a typo never leaves half-created resources behind.
        network = parse_ingress(ingress_cidr, allow_world=allow_world)
        aws = self._clients()
        role_arn = self._ensure_role(aws)
        with self._errors("bring up"):
            cluster = self._ensure_cluster_available(aws, role_arn)
            self._open_ingress(aws, security_group_of(cluster), network)
            info = self._info(aws, cluster, role_arn)
        logger.info("%s", info.summary())
        return info

    def status(self) -> ClusterInfo:
        """Describe the cluster, or return status 'absent' when it does not exist."""
        aws = self._clients()
        with self._errors("describe"):
            return self._current_info(aws)

    def pause(self, progress: Progress | None = None) -> ClusterInfo:
        """Pause an available cluster (stops compute billing); pausing a paused one is a no-op.

        The result says how many hours the cluster ran since it last became available.
        """
        aws = self._clients()
        with self._errors("pause"):
            cluster = self._require_cluster(aws, "pause")
            status_before = cluster["ClusterStatus"]
            ran = hours_since(cluster.get("Tags", []), AVAILABLE_SINCE_TAG, self.clock())
            if status_before not in ("pausing", "paused"):
                aws.redshift.pause_cluster(ClusterIdentifier=self.cluster_id)
                progress_or_default(progress).info("Pausing %s.", self._subject)
                self._wait_until_paused(aws)
                self._tag(aws, PAUSED_SINCE_TAG)
            else:
                self._wait_until_paused(aws)
                ran = None  # it was not running: someone else paused it
            event = None if status_before == "paused" else "paused"
            return replace(self._current_info(aws), ran_hours=ran, event=event)

    def resume(self, progress: Progress | None = None) -> ClusterInfo:
        """Resume a paused cluster and wait until it is available again."""
        return self.ensure_available(progress, action="resume")

    def ensure_available(
        self, progress: Progress | None = None, *, action: str = "connect to"
    ) -> ClusterInfo:
        """Resume the cluster if it is paused (or finish resuming it) and wait, within the bound.

        What a run does before it connects; an available cluster costs one DescribeClusters.
        The result says how many hours it had been paused when this resumed it.
        """
        log = progress_or_default(progress)
        aws = self._clients()
        with self._errors(action):
            cluster = self._require_cluster(aws, action)
            status = cluster["ClusterStatus"]
            if status == AVAILABLE:
                return self._info(aws, cluster, self._role_of(cluster), ingress=False)
            if status == "deleting":
                raise ClusterError(f"cannot {action} {self._subject}: it is being deleted")
            paused = hours_since(cluster.get("Tags", []), PAUSED_SINCE_TAG, self.clock())
            bound = self.poll_seconds * self.max_wait_attempts
            if status in ("pausing", "paused"):
                log.info("%s is %s: resuming it, waiting up to %s s.", self._subject, status, bound)
                self._resume(aws, status)
            else:  # resuming, creating, modifying, rebooting: it gets there on its own
                log.info("%s is %s: waiting up to %s s for it.", self._subject, status, bound)
                paused = None if status != "resuming" else paused
            self._wait(aws.redshift, "cluster_available", log)
            self._tag(aws, AVAILABLE_SINCE_TAG)
            log.info("%s is available.", self._subject)
            info = self._current_info(aws)
            return replace(info, paused_hours=paused, event="resumed")

    def down(self, final_snapshot_id: str | None = None) -> ClusterInfo:
        """Delete the cluster, its security group and its role; nothing to delete is fine."""
        aws = self._clients()
        with self._errors("tear down"):
            self._delete_cluster(aws, final_snapshot_id)
            self._delete_security_group(aws)
        logger.info("Deleted %s and %s.", self._subject, self._delete_role(aws))
        return self._absent_info()

    def loading_policy(
        self, db_user: str = "", *, db_groups: tuple[str, ...] = (), auto_create: bool = False
    ) -> dict[str, Any]:
        """The IAM policy the identity that runs the loads needs (see ``iam``)."""
        aws = self._clients()
        with self._errors("write the loading policy of"):
            arn = aws.arn("redshift", f"cluster:{self.cluster_id}")
        return cluster_loading_policy(
            arn, self.database, db_user, db_groups=db_groups, auto_create=auto_create
        )

    # ------------------------------------------------------------------------------ plumbing

    @property
    def _owner(self) -> str:
        return self.cluster_id

    @property
    def _subject(self) -> str:
        return f"Redshift cluster {self.cluster_id!r}"

    @property
    def _secret(self) -> str:
        return self.master_password

    def _wait(self, redshift: Any, waiter_name: str, progress: Progress | None = None) -> None:
        """boto3's waiter, in rounds of ``PROGRESS_POLLS`` so that a long wait says it goes on."""
        waiter = redshift.get_waiter(waiter_name)
        left = self.max_wait_attempts
        while True:
            polls = min(left, PROGRESS_POLLS)
            try:
                waiter.wait(
                    ClusterIdentifier=self.cluster_id,
                    WaiterConfig={"Delay": self.poll_seconds, "MaxAttempts": polls},
                )
                return
            except WaiterError as error:
                left -= polls
                # A failure state (e.g. the cluster went away) or the last round: give up.
                if left <= 0 or "Max attempts exceeded" not in str(error):
                    raise
                waited = (self.max_wait_attempts - left) * self.poll_seconds
                progress_or_default(progress).info(
                    "Still waiting for %s (%s s so far).", self._subject, waited
                )

    def _tag(self, aws: _Clients, key: str) -> None:
        """Record on the cluster when it became available or paused (see ``lifecycle``)."""
        aws.redshift.create_tags(
            ResourceName=aws.arn("redshift", f"cluster:{self.cluster_id}"),
            Tags=[{"Key": key, "Value": timestamp(self.clock())}],
        )

    # ------------------------------------------------------------------------------- cluster

    def _describe_cluster(self, aws: _Clients) -> dict[str, Any] | None:
        try:
            response = aws.redshift.describe_clusters(ClusterIdentifier=self.cluster_id)
        except ClientError as error:
            if error_code(error) == "ClusterNotFound":
                return None
            raise
        return response["Clusters"][0]

    def _cluster_status(self, aws: _Clients) -> str:
        cluster = self._describe_cluster(aws)
        return ABSENT if cluster is None else cluster["ClusterStatus"]

    def _require_cluster(self, aws: _Clients, action: str) -> dict[str, Any]:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            raise ClusterError(f"cannot {action} {self._subject}: it does not exist")
        return cluster

    def _ensure_cluster_available(self, aws: _Clients, role_arn: str) -> dict[str, Any]:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            self._create_cluster(aws, role_arn)
        elif cluster["ClusterStatus"] == "deleting":
            raise ClusterError(
                f"cannot bring up {self._subject}: it is being deleted; "
                "run up again once that finishes"
            )
        elif cluster["ClusterStatus"] in ("pausing", "paused"):
            self._resume(aws, cluster["ClusterStatus"])
        else:
            logger.info("Reusing existing %s.", self._subject)
            self._warn_if_role_missing(cluster, role_arn)
        self._wait(aws.redshift, "cluster_available")
        if cluster is None or cluster["ClusterStatus"] != AVAILABLE:
            self._tag(aws, AVAILABLE_SINCE_TAG)
        return self._require_cluster(aws, "bring up")

    def _resume(self, aws: _Clients, status: str) -> None:
        if status == "pausing":
            # Redshift refuses to resume a cluster mid-pause, so let the pause finish first.
            self._wait_until_paused(aws)
        aws.redshift.resume_cluster(ClusterIdentifier=self.cluster_id)
        logger.info("Resuming paused %s.", self._subject)

    def _wait_until_paused(self, aws: _Clients) -> None:
        # boto3 has no "cluster paused" waiter, so poll by hand within the same bounds.
        self._poll_until(lambda: self._cluster_status(aws) == "paused", "pause")

    def _warn_if_role_missing(self, cluster: dict[str, Any], role_arn: str) -> None:
        # A cluster this code did not create may serve others: changing its roles is a human's
        # call, so only say what is missing.
        if role_arn not in [role["IamRoleArn"] for role in cluster.get("IamRoles", [])]:
            logger.warning(
                "%s exists without IAM role %r attached, so COPY from S3 will be denied; attach "
                "it with `aws redshift modify-cluster-iam-roles`.",
                self._subject,
                self.role_name,
            )

    def _create_cluster(self, aws: _Clients, role_arn: str) -> None:
        if self.master_password:
            password: dict[str, Any] = {"MasterUserPassword": self.master_password}
        elif self.manage_master_password:
            password = {"ManageMasterPassword": True}
        else:
            raise ClusterError(
                f"cannot create {self._subject}: no master password (set REDSHIFT_PASSWORD, "
                "or use IAM auth, which lets AWS keep it)"
            )
        size = (
            {"ClusterType": "single-node"}
            if self.node_count == 1
            else {"ClusterType": "multi-node", "NumberOfNodes": self.node_count}
        )
        group_id = self._group(aws).ensure(self._subject)
        with secret_masked_in_wire_log(self.master_password):
            aws.redshift.create_cluster(
                ClusterIdentifier=self.cluster_id,
                NodeType=self.node_type,
                DBName=self.database,
                MasterUsername=self.master_user,
                **password,
                IamRoles=[role_arn],
                VpcSecurityGroupIds=[group_id],
                PubliclyAccessible=self.publicly_accessible,
                Encrypted=True,
                **size,
            )
        logger.info(
            "Creating %s (%s x %s); waiting until it is available.",
            self._subject,
            self.node_count,
            self.node_type,
        )

    def _delete_cluster(self, aws: _Clients, final_snapshot_id: str | None) -> None:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            logger.info("%s does not exist; nothing to delete.", self._subject)
            return
        if cluster["ClusterStatus"] != "deleting":
            # Both parameters are spelled out: moto does not infer Skip=False from the id.
            snapshot: dict[str, Any] = {"SkipFinalClusterSnapshot": not final_snapshot_id}
            if final_snapshot_id:
                snapshot["FinalClusterSnapshotIdentifier"] = final_snapshot_id
            aws.redshift.delete_cluster(ClusterIdentifier=self.cluster_id, **snapshot)
        self._wait(aws.redshift, "cluster_deleted")

    def _info(
        self, aws: _Clients, cluster: dict[str, Any], role_arn: str | None, ingress: bool = True
    ) -> ClusterInfo:
        endpoint = cluster.get("Endpoint") or {}
        group_id = security_group_of(cluster)
        running = cluster["ClusterStatus"] == AVAILABLE
        return ClusterInfo(
            identifier=self.cluster_id,
            status=cluster["ClusterStatus"],
            endpoint_host=endpoint.get("Address"),
            endpoint_port=endpoint.get("Port"),
            role_arn=role_arn,
            ingress=open_cidrs(aws.ec2, group_id) if group_id and ingress else (),
            available_since=tag_value(cluster.get("Tags", []), AVAILABLE_SINCE_TAG)
            if running
            else None,
        )

    @staticmethod
    def _role_of(cluster: dict[str, Any]) -> str | None:
        roles = cluster.get("IamRoles") or []
        return roles[0]["IamRoleArn"] if roles else None

    def _current_info(self, aws: _Clients) -> ClusterInfo:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            return self._absent_info()
        return self._info(aws, cluster, self._role_of(cluster))

    def _absent_info(self) -> ClusterInfo:
        return ClusterInfo(self.cluster_id, ABSENT, None, None, None, ())

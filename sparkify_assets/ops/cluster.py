"""Lifecycle of the Amazon Redshift cluster that hosts the Sparkify warehouse (plain boto3).

``RedshiftCluster.from_env().up(...)`` is what ``sparkify cluster up`` runs; the Dagster jobs in
``defs.cluster_jobs`` hand the same object to their ops. The role is in ``iam``, the network in
``network``, and what a failure means in ``aws_errors``.

Security posture:
* the cluster's IAM role can only *read* S3, and only the Sparkify data bucket/prefix when one
  is configured;
* nothing is opened to the network unless the caller names a CIDR (see ``network``);
* the master password is excluded from every repr, log line and error message.

Plain boto3 clients honour ``AWS_ENDPOINT_URL``, so the same code runs against a local
``moto_server`` for tests and demos.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from sparkify_assets.core import settings
from sparkify_assets.ingest.s3_uri import validate_s3_uri
from sparkify_assets.ops.aws_errors import (
    ClusterError,
    aws_errors,
    error_code,
    secret_masked_in_wire_log,
)
from sparkify_assets.ops.iam import S3ReadRole
from sparkify_assets.ops.network import (
    REDSHIFT_PORT,
    ClusterSecurityGroup,
    open_cidrs,
    parse_ingress,
    security_group_of,
)

logger = logging.getLogger(__name__)

ABSENT = "absent"
DEFAULT_CLUSTER_ID = "sparkify"
DEFAULT_ROLE_NAME = "sparkify-redshift-s3-read"
DEFAULT_NODE_TYPE = "ra3.large"
DEFAULT_DATABASE = "sparkify"
DEFAULT_MASTER_USER = "sparkify_admin"


@dataclass(frozen=True)
class ClusterInfo:
    """What a caller needs to know about the cluster, never including credentials."""

    identifier: str
    status: str
    endpoint_host: str | None
    endpoint_port: int | None
    role_arn: str | None
    # CIDRs allowed to reach the cluster on TCP 5439; empty means nothing outside the VPC can.
    ingress: tuple[str, ...]

    @property
    def endpoint(self) -> str | None:
        if self.endpoint_host is None:
            return None
        return f"{self.endpoint_host}:{self.endpoint_port}"

    @property
    def ingress_summary(self) -> str:
        if not self.ingress:
            return f"tcp/{REDSHIFT_PORT} closed: no ingress CIDR opened"
        return f"tcp/{REDSHIFT_PORT} open to {', '.join(self.ingress)}"

    def summary(self) -> str:
        if self.status == ABSENT:
            return f"Redshift cluster {self.identifier!r} not found (status {ABSENT})"
        return (
            f"Redshift cluster {self.identifier!r} is {self.status} at {self.endpoint}; "
            f"role {self.role_arn}; {self.ingress_summary}"
        )

    def as_metadata(self) -> dict[str, str]:
        return {
            "identifier": self.identifier,
            "status": self.status,
            "endpoint": self.endpoint or "",
            "role_arn": self.role_arn or "",
            "ingress": self.ingress_summary,
        }


@dataclass(frozen=True)
class _Clients:
    iam: Any
    ec2: Any
    redshift: Any


def data_location(uri: str) -> tuple[str | None, str]:
    """(bucket, prefix ending in "/") the role may read, or (None, "") for a local folder."""
    if not uri.startswith("s3://"):
        return None, ""
    location = validate_s3_uri(uri)
    return location.bucket, f"{location.prefix}/" if location.prefix else ""


class RedshiftCluster(BaseModel):
    """Creates, inspects, pauses, resumes and deletes the Sparkify Redshift cluster."""

    model_config = ConfigDict(frozen=True)

    cluster_id: str = DEFAULT_CLUSTER_ID
    role_name: str = DEFAULT_ROLE_NAME
    node_type: str = DEFAULT_NODE_TYPE
    node_count: int = Field(default=1, ge=1, description="1 means a single-node cluster.")
    database: str = DEFAULT_DATABASE
    master_user: str = DEFAULT_MASTER_USER
    master_password: str = Field(
        default="", repr=False, description="Only needed to create the cluster."
    )
    region: str | None = Field(
        default=None, description="Falls back to AWS_REGION, AWS_DEFAULT_REGION, AWS config."
    )
    data_bucket: str | None = Field(
        default=None,
        description="S3 bucket the role may read; without it the role gets AmazonS3ReadOnlyAccess.",
    )
    data_prefix: str = ""
    publicly_accessible: bool = Field(
        default=True,
        description="Lets clients outside the VPC connect; the security group still admits only "
        "the ingress CIDR given to up().",
    )
    poll_seconds: int = Field(default=30, ge=0, description="Delay between waiter polls.")
    max_wait_attempts: int = Field(
        default=60, ge=1, description="Polls before giving up (60 x 30 s = 30 minutes)."
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

    def ensure_role(self) -> str:
        """Create or update the read-only S3 role Redshift assumes for COPY; return its ARN."""
        return self._ensure_role(self._clients())

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
            if network is None:
                logger.info(
                    "No ingress CIDR given: opened nothing on tcp/%s of %s.",
                    REDSHIFT_PORT,
                    self._subject,
                )
            else:
                self._group(aws).open_ingress(security_group_of(cluster), network, self._subject)
            info = self._info(aws, cluster, role_arn)
        logger.info("%s", info.summary())
        return info

    def status(self) -> ClusterInfo:
        """Describe the cluster, or return status 'absent' when it does not exist."""
        aws = self._clients()
        with self._errors("describe"):
            return self._current_info(aws)

    def pause(self) -> ClusterInfo:
        """Pause an available cluster (stops compute billing); pausing a paused one is a no-op."""
        aws = self._clients()
        with self._errors("pause"):
            cluster = self._require_cluster(aws, "pause")
            if cluster["ClusterStatus"] not in ("pausing", "paused"):
                aws.redshift.pause_cluster(ClusterIdentifier=self.cluster_id)
            self._wait_until_paused(aws)
            return self._current_info(aws)

    def resume(self) -> ClusterInfo:
        """Resume a paused cluster and wait until it is available again."""
        aws = self._clients()
        with self._errors("resume"):
            cluster = self._require_cluster(aws, "resume")
            if cluster["ClusterStatus"] in ("pausing", "paused"):
                self._resume(aws, cluster["ClusterStatus"])
            self._wait(aws.redshift, "cluster_available")
            return self._current_info(aws)

    def down(self, final_snapshot_id: str | None = None) -> ClusterInfo:
        """Delete the cluster, its security group and its role; nothing to delete is fine."""
        aws = self._clients()
        with self._errors("tear down"):
            self._delete_cluster(aws, final_snapshot_id)
            self._delete_security_group(aws)
        role = self._role(aws)
        with aws_errors("delete", role.subject, self.master_password):
            role.delete()
        logger.info("Deleted %s and %s.", self._subject, role.subject)
        return self._absent_info()

    # ------------------------------------------------------------------------------ plumbing

    @property
    def _subject(self) -> str:
        return f"Redshift cluster {self.cluster_id!r}"

    def _errors(self, action: str):
        return aws_errors(action, self._subject, self.master_password)

    def _clients(self) -> _Clients:
        # Explicit config wins; AWS_REGION is checked because botocore only reads
        # AWS_DEFAULT_REGION. None lets boto3 fall back to AWS_DEFAULT_REGION or ~/.aws/config.
        # boto3.client reuses the default session, whose parsed service models make each call
        # cheap, and still reads AWS_ENDPOINT_URL afresh for every client.
        region = self.region or os.environ.get("AWS_REGION") or None
        with self._errors("connect for"):
            return _Clients(
                iam=boto3.client("iam", region_name=region),
                ec2=boto3.client("ec2", region_name=region),
                redshift=boto3.client("redshift", region_name=region),
            )

    def _role(self, aws: _Clients) -> S3ReadRole:
        return S3ReadRole(aws.iam, self.role_name, self.cluster_id)

    def _group(self, aws: _Clients) -> ClusterSecurityGroup:
        return ClusterSecurityGroup(aws.ec2, self.cluster_id)

    def _waiter_config(self) -> dict[str, int]:
        return {"Delay": self.poll_seconds, "MaxAttempts": self.max_wait_attempts}

    def _wait(self, redshift: Any, waiter_name: str) -> None:
        redshift.get_waiter(waiter_name).wait(
            ClusterIdentifier=self.cluster_id, WaiterConfig=self._waiter_config()
        )

    def _poll_until(self, done: Callable[[], bool], what: str) -> None:
        """Bounded hand-written polling, only for states boto3 offers no waiter for."""
        for _ in range(self.max_wait_attempts):
            if done():
                return
            time.sleep(self.poll_seconds)
        raise ClusterError(
            f"cannot {what} {self._subject}: still not done after "
            f"{self.max_wait_attempts} checks {self.poll_seconds} s apart"
        )

    def _ensure_role(self, aws: _Clients) -> str:
        role = self._role(aws)
        with aws_errors("set up", role.subject, self.master_password):
            return role.ensure(self.data_bucket, self.data_prefix, self._waiter_config())

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
        if not self.master_password:
            raise ClusterError(
                f"cannot create {self._subject}: no master password (set REDSHIFT_PASSWORD)"
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
                MasterUserPassword=self.master_password,
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

    def _delete_security_group(self, aws: _Clients) -> None:
        group = self._group(aws)
        group_id = group.existing_id()
        if group_id is not None:
            # The cluster's network interfaces can linger briefly after deletion; no waiter
            # covers that, so retry DependencyViolation within the usual bounds.
            self._poll_until(lambda: group.try_delete(group_id), "delete the security group of")
            logger.info("Deleted security group %s (%s).", group.name, group_id)

    def _info(self, aws: _Clients, cluster: dict[str, Any], role_arn: str | None) -> ClusterInfo:
        endpoint = cluster.get("Endpoint") or {}
        group_id = security_group_of(cluster)
        return ClusterInfo(
            identifier=self.cluster_id,
            status=cluster["ClusterStatus"],
            endpoint_host=endpoint.get("Address"),
            endpoint_port=endpoint.get("Port"),
            role_arn=role_arn,
            ingress=open_cidrs(aws.ec2, group_id) if group_id else (),
        )

    def _current_info(self, aws: _Clients) -> ClusterInfo:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            return self._absent_info()
        roles = cluster.get("IamRoles") or []
        return self._info(aws, cluster, roles[0]["IamRoleArn"] if roles else None)

    def _absent_info(self) -> ClusterInfo:
        return ClusterInfo(self.cluster_id, ABSENT, None, None, None, ())

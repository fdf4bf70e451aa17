"""Lifecycle of the Amazon Redshift cluster that hosts the Sparkify warehouse.

`RedshiftCluster` is a Dagster resource, but every method is plain boto3 so the CLI can call
`RedshiftCluster.from_env().up(...)` without Dagster. The jobs at the bottom of the module wrap
the same methods for the Dagster UI.

Security posture:
* the cluster's IAM role can only *read* S3, and only the Sparkify data bucket/prefix when one
  is configured;
* nothing is opened to the network unless the caller names a CIDR, and the whole internet
  (0.0.0.0/0, ::/0) needs an explicit `allow_world=True`;
* the master password is excluded from every repr, log line and error message.

Plain boto3 clients honour `AWS_ENDPOINT_URL`, so the same code runs against a local
`moto_server` for tests and demos.
"""

import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    WaiterError,
)
from dagster import Config, ConfigurableResource, OpExecutionContext, job, op
from pydantic import Field

from sparkify_assets.core.errors import UserError

logger = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REDSHIFT_PORT = 5439
ABSENT = "absent"
DEFAULT_CLUSTER_ID = "sparkify"
DEFAULT_ROLE_NAME = "sparkify-redshift-s3-read"
DEFAULT_NODE_TYPE = "ra3.large"
DEFAULT_DATABASE = "sparkify"
DEFAULT_MASTER_USER = "sparkify_admin"
S3_READ_ONLY_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
S3_READ_POLICY_NAME = "sparkify-s3-read"

REDSHIFT_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "redshift.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

# botocore error codes worth a human explanation; anything else is reported verbatim.
_ERROR_HINTS = {
    **dict.fromkeys(
        ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"),
        "these AWS credentials are not allowed to do this (check the IAM permissions)",
    ),
    **dict.fromkeys(
        (
            "InvalidClientTokenId",
            "AuthFailure",
            "SignatureDoesNotMatch",
            "UnrecognizedClientException",
            "InvalidAccessKeyId",
        ),
        "AWS rejected the credentials (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
        "AWS_PROFILE)",
    ),
    **dict.fromkeys(
        ("ExpiredToken", "ExpiredTokenException", "RequestExpired"),
        "the AWS session token has expired (refresh the credentials)",
    ),
    **dict.fromkeys(
        (
            "ClusterQuotaExceeded",
            "NumberOfNodesQuotaExceeded",
            "NumberOfNodesPerClusterLimitExceeded",
        ),
        "the account's Redshift quota is used up (delete an unused cluster or request a "
        "quota increase)",
    ),
    "InsufficientClusterCapacity": "AWS has no capacity for this node type right now "
    "(try another node type or region)",
    "InvalidClusterState": "the cluster is busy changing state (wait a few minutes and retry)",
}


class ClusterError(UserError):
    """A cluster operation failed; the message is one human-readable line without secrets."""


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


class RedshiftCluster(ConfigurableResource):
    """Creates, inspects, pauses, resumes and deletes the Sparkify Redshift cluster."""

    cluster_id: str = DEFAULT_CLUSTER_ID
    role_name: str = DEFAULT_ROLE_NAME
    node_type: str = DEFAULT_NODE_TYPE
    node_count: int = Field(default=1, ge=1, description="1 means a single-node cluster.")
    database: str = DEFAULT_DATABASE
    master_user: str = DEFAULT_MASTER_USER
    master_password: str = Field(
        default="",
        repr=False,
        description="Supply via EnvVar('REDSHIFT_PASSWORD'); only needed to create the cluster.",
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
    def from_env(cls, master_password: str | None = None) -> "RedshiftCluster":
        """Build the resource from the SPARKIFY_*/REDSHIFT_*/AWS_REGION environment variables.

        Code locations pass ``master_password=EnvVar("REDSHIFT_PASSWORD")`` so that Dagster
        resolves it at run time; the CLI lets it be read here.
        """
        if master_password is None:
            master_password = _env("REDSHIFT_PASSWORD", "")
        data_bucket, data_prefix = _split_s3_uri(_env("SPARKIFY_DATA_URI", ""))
        return cls(
            cluster_id=_env("SPARKIFY_CLUSTER_ID", DEFAULT_CLUSTER_ID),
            role_name=_env("SPARKIFY_CLUSTER_ROLE", DEFAULT_ROLE_NAME),
            node_type=_env("SPARKIFY_CLUSTER_NODE_TYPE", DEFAULT_NODE_TYPE),
            node_count=_env_positive_int("SPARKIFY_CLUSTER_NODES", 1),
            database=_env("REDSHIFT_DATABASE", DEFAULT_DATABASE),
            master_user=_env("REDSHIFT_USER", DEFAULT_MASTER_USER),
            master_password=master_password,
            region=_env("AWS_REGION", "") or None,
            data_bucket=data_bucket,
            data_prefix=data_prefix,
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
        network = _parse_ingress(ingress_cidr, allow_world=allow_world)
        aws = self._clients()
        role_arn = self._ensure_role(aws)
        with self._aws_errors("bring up", self._cluster_subject):
            cluster = self._ensure_cluster_available(aws, role_arn)
            group_id = _security_group_of(cluster)
            if network is None:
                logger.info(
                    "No ingress CIDR given: opened nothing on tcp/%s of %s.",
                    REDSHIFT_PORT,
                    self._cluster_subject,
                )
            else:
                self._open_ingress(aws, group_id, network)
            info = self._info(aws, cluster, role_arn)
        logger.info("%s", info.summary())
        return info

    def status(self) -> ClusterInfo:
        """Describe the cluster, or return status 'absent' when it does not exist."""
        aws = self._clients()
        with self._aws_errors("describe", self._cluster_subject):
            return self._current_info(aws)

    def pause(self) -> ClusterInfo:
        """Pause an available cluster (stops compute billing); pausing a paused one is a no-op."""
        aws = self._clients()
        with self._aws_errors("pause", self._cluster_subject):
            cluster = self._require_cluster(aws, "pause")
            if cluster["ClusterStatus"] not in ("pausing", "paused"):
                aws.redshift.pause_cluster(ClusterIdentifier=self.cluster_id)
            self._wait_until_paused(aws)
            return self._current_info(aws)

    def resume(self) -> ClusterInfo:
        """Resume a paused cluster and wait until it is available again."""
        aws = self._clients()
        with self._aws_errors("resume", self._cluster_subject):
            cluster = self._require_cluster(aws, "resume")
            if cluster["ClusterStatus"] in ("pausing", "paused"):
                self._resume(aws, cluster["ClusterStatus"])
            self._wait(aws.redshift, "cluster_available")
            return self._current_info(aws)

    def down(self, final_snapshot_id: str | None = None) -> ClusterInfo:
        """Delete the cluster, its security group and its role; nothing to delete is fine."""
        aws = self._clients()
        with self._aws_errors("tear down", self._cluster_subject):
            self._delete_cluster(aws, final_snapshot_id)
            self._delete_security_group(aws)
        with self._aws_errors("delete", self._role_subject):
            self._delete_role(aws)
        logger.info("Deleted %s and %s.", self._cluster_subject, self._role_subject)
        return self._absent_info()

    # ------------------------------------------------------------------------------ plumbing

    @property
    def _cluster_subject(self) -> str:
        return f"Redshift cluster {self.cluster_id!r}"

    @property
    def _role_subject(self) -> str:
        return f"IAM role {self.role_name!r}"

    @property
    def _security_group_name(self) -> str:
        return f"{self.cluster_id}-redshift"

    def _clients(self) -> _Clients:
        # Explicit config wins; AWS_REGION is checked because botocore only reads
        # AWS_DEFAULT_REGION. None lets boto3 fall back to AWS_DEFAULT_REGION or ~/.aws/config.
        # boto3.client reuses the default session, whose parsed service models make each call
        # cheap, and still reads AWS_ENDPOINT_URL afresh for every client.
        region = self.region or os.environ.get("AWS_REGION") or None
        with self._aws_errors("connect for", self._cluster_subject):
            return _Clients(
                iam=boto3.client("iam", region_name=region),
                ec2=boto3.client("ec2", region_name=region),
                redshift=boto3.client("redshift", region_name=region),
            )

    @contextmanager
    def _aws_errors(self, action: str, subject: str) -> Iterator[None]:
        """Turn botocore failures into a one-line ClusterError that names the resource."""
        try:
            yield
        except ClientError as error:
            raise ClusterError(self._redact(_explain(error, action, subject))) from error
        except NoCredentialsError as error:
            raise ClusterError(
                f"cannot {action} {subject}: no AWS credentials found (set AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
            ) from error
        except NoRegionError as error:
            raise ClusterError(
                f"cannot {action} {subject}: no AWS region configured (set AWS_REGION)"
            ) from error
        except WaiterError as error:
            raise ClusterError(
                f"cannot {action} {subject}: gave up waiting ({error.reason})"
            ) from error
        except BotoCoreError as error:
            # e.g. parameter validation, whose text can echo request values: redact it.
            raise ClusterError(self._redact(f"cannot {action} {subject}: {error}")) from error

    def _redact(self, text: str) -> str:
        one_line = " ".join(text.split())
        if not self.master_password:
            return one_line
        return one_line.replace(self.master_password, "***")

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
            f"cannot {what} {self._cluster_subject}: still not done after "
            f"{self.max_wait_attempts} checks {self.poll_seconds} s apart"
        )

    # ---------------------------------------------------------------------------------- role

    def _ensure_role(self, aws: _Clients) -> str:
        with self._aws_errors("set up", self._role_subject):
            role_arn = self._create_or_update_role(aws.iam)
            if self.data_bucket:
                self._grant_bucket_read(aws.iam)
            else:
                self._grant_any_bucket_read(aws.iam)
        return role_arn

    def _create_or_update_role(self, iam: Any) -> str:
        trust_policy = json.dumps(REDSHIFT_TRUST_POLICY)
        try:
            role = iam.get_role(RoleName=self.role_name)["Role"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise
            role = iam.create_role(
                RoleName=self.role_name,
                AssumeRolePolicyDocument=trust_policy,
                Description=f"Lets Redshift cluster {self.cluster_id} read Sparkify data from S3",
            )["Role"]
            iam.get_waiter("role_exists").wait(
                RoleName=self.role_name, WaiterConfig=self._waiter_config()
            )
            logger.info("Created %s.", self._role_subject)
            return role["Arn"]
        # Re-assert the trust policy so a hand-edited role cannot drift from what we expect.
        iam.update_assume_role_policy(RoleName=self.role_name, PolicyDocument=trust_policy)
        logger.info("Reusing %s.", self._role_subject)
        return role["Arn"]

    def _grant_bucket_read(self, iam: Any) -> None:
        iam.put_role_policy(
            RoleName=self.role_name,
            PolicyName=S3_READ_POLICY_NAME,
            PolicyDocument=json.dumps(bucket_read_policy(self.data_bucket, self.data_prefix)),
        )
        # A bucket was configured after the fact: drop the broad grant an earlier run made.
        if S3_READ_ONLY_MANAGED_POLICY in _attached_policy_arns(iam, self.role_name):
            iam.detach_role_policy(RoleName=self.role_name, PolicyArn=S3_READ_ONLY_MANAGED_POLICY)

    def _grant_any_bucket_read(self, iam: Any) -> None:
        iam.attach_role_policy(RoleName=self.role_name, PolicyArn=S3_READ_ONLY_MANAGED_POLICY)
        if S3_READ_POLICY_NAME in _inline_policy_names(iam, self.role_name):
            iam.delete_role_policy(RoleName=self.role_name, PolicyName=S3_READ_POLICY_NAME)

    def _delete_role(self, aws: _Clients) -> None:
        try:
            for policy_arn in _attached_policy_arns(aws.iam, self.role_name):
                aws.iam.detach_role_policy(RoleName=self.role_name, PolicyArn=policy_arn)
            for policy_name in _inline_policy_names(aws.iam, self.role_name):
                aws.iam.delete_role_policy(RoleName=self.role_name, PolicyName=policy_name)
            aws.iam.delete_role(RoleName=self.role_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity":
                raise

    # ------------------------------------------------------------------------------- cluster

    def _describe_cluster(self, aws: _Clients) -> dict[str, Any] | None:
        try:
            response = aws.redshift.describe_clusters(ClusterIdentifier=self.cluster_id)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ClusterNotFound":
                return None
            raise
        return response["Clusters"][0]

    def _cluster_status(self, aws: _Clients) -> str:
        cluster = self._describe_cluster(aws)
        return ABSENT if cluster is None else cluster["ClusterStatus"]

    def _require_cluster(self, aws: _Clients, action: str) -> dict[str, Any]:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            raise ClusterError(f"cannot {action} {self._cluster_subject}: it does not exist")
        return cluster

    def _ensure_cluster_available(self, aws: _Clients, role_arn: str) -> dict[str, Any]:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            self._create_cluster(aws, role_arn)
        elif cluster["ClusterStatus"] == "deleting":
            raise ClusterError(
                f"cannot bring up {self._cluster_subject}: it is being deleted; "
                "run up again once that finishes"
            )
        elif cluster["ClusterStatus"] in ("pausing", "paused"):
            self._resume(aws, cluster["ClusterStatus"])
        else:
            logger.info("Reusing existing %s.", self._cluster_subject)
            self._warn_if_role_missing(cluster, role_arn)
        self._wait(aws.redshift, "cluster_available")
        return self._require_cluster(aws, "bring up")

    def _resume(self, aws: _Clients, status: str) -> None:
        if status == "pausing":
            # Redshift refuses to resume a cluster mid-pause, so let the pause finish first.
            self._wait_until_paused(aws)
        aws.redshift.resume_cluster(ClusterIdentifier=self.cluster_id)
        logger.info("Resuming paused %s.", self._cluster_subject)

    def _wait_until_paused(self, aws: _Clients) -> None:
        # boto3 has no "cluster paused" waiter, so poll by hand within the same bounds.
        self._poll_until(lambda: self._cluster_status(aws) == "paused", "pause")

    def _warn_if_role_missing(self, cluster: dict[str, Any], role_arn: str) -> None:
        # A cluster this code did not create may serve others: changing its roles is a human's
        # call, so only say what is missing.
        if role_arn not in [role["IamRoleArn"] for role in cluster.get("IamRoles", [])]:
            logger.warning(
                "%s exists without %s attached, so COPY from S3 will be denied; attach it "
                "with `aws redshift modify-cluster-iam-roles`.",
                self._cluster_subject,
                self._role_subject,
            )

    def _create_cluster(self, aws: _Clients, role_arn: str) -> None:
        if not self.master_password:
            raise ClusterError(
                f"cannot create {self._cluster_subject}: no master password (set REDSHIFT_PASSWORD)"
            )
        size = (
            {"ClusterType": "single-node"}
            if self.node_count == 1
            else {"ClusterType": "multi-node", "NumberOfNodes": self.node_count}
        )
        group_id = self._ensure_security_group(aws.ec2)
        with _password_masked_in_wire_log(self.master_password):
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
            self._cluster_subject,
            self.node_count,
            self.node_type,
        )

    def _delete_cluster(self, aws: _Clients, final_snapshot_id: str | None) -> None:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            logger.info("%s does not exist; nothing to delete.", self._cluster_subject)
            return
        if cluster["ClusterStatus"] != "deleting":
            # Both parameters are spelled out: moto does not infer Skip=False from the id.
            snapshot: dict[str, Any] = {"SkipFinalClusterSnapshot": not final_snapshot_id}
            if final_snapshot_id:
                snapshot["FinalClusterSnapshotIdentifier"] = final_snapshot_id
            aws.redshift.delete_cluster(ClusterIdentifier=self.cluster_id, **snapshot)
        self._wait(aws.redshift, "cluster_deleted")

    def _info(self, aws: _Clients, cluster: dict[str, Any], role_arn: str | None) -> ClusterInfo:
        endpoint = cluster.get("Endpoint") or {}
        group_id = _security_group_of(cluster)
        return ClusterInfo(
            identifier=self.cluster_id,
            status=cluster["ClusterStatus"],
            endpoint_host=endpoint.get("Address"),
            endpoint_port=endpoint.get("Port"),
            role_arn=role_arn,
            ingress=_open_cidrs(aws.ec2, group_id) if group_id else (),
        )

    def _current_info(self, aws: _Clients) -> ClusterInfo:
        cluster = self._describe_cluster(aws)
        if cluster is None:
            return self._absent_info()
        return self._info(aws, cluster, _attached_role_arn(cluster))

    def _absent_info(self) -> ClusterInfo:
        return ClusterInfo(self.cluster_id, ABSENT, None, None, None, ())

    # ------------------------------------------------------------------------------- network

    def _ensure_security_group(self, ec2: Any) -> str:
        """Return the id of the cluster's own security group in the default VPC, creating it.

        Without VpcSecurityGroupIds AWS would attach the default VPC's *default* group, which
        other resources share; opening 5439 there would widen their exposure too, and
        `down` could not remove it. A dedicated group keeps the rule scoped and disposable.
        """
        vpc_id = _default_vpc_id(ec2)
        if vpc_id is None:
            raise ClusterError(
                f"cannot create {self._cluster_subject}: no default VPC in this region "
                "(create one with `aws ec2 create-default-vpc`)"
            )
        existing = self._find_security_group(ec2, vpc_id)
        if existing is not None:
            return existing
        group_id = ec2.create_security_group(
            GroupName=self._security_group_name,
            Description=f"Client access to Redshift cluster {self.cluster_id}",
            VpcId=vpc_id,
        )["GroupId"]
        logger.info("Created security group %s (%s).", self._security_group_name, group_id)
        return group_id

    def _find_security_group(self, ec2: Any, vpc_id: str) -> str | None:
        groups = ec2.describe_security_groups(
            Filters=[
                {"Name": "group-name", "Values": [self._security_group_name]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ]
        )["SecurityGroups"]
        return groups[0]["GroupId"] if groups else None

    def _open_ingress(self, aws: _Clients, group_id: str | None, network: IpNetwork) -> None:
        if group_id is None:
            raise ClusterError(
                f"cannot open ingress to {self._cluster_subject}: it has no VPC security group"
            )
        try:
            aws.ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[_redshift_permission(network)]
            )
            logger.info("Opened tcp/%s of %s to %s.", REDSHIFT_PORT, group_id, network)
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidPermission.Duplicate":
                raise
            logger.info("tcp/%s of %s is already open to %s.", REDSHIFT_PORT, group_id, network)

    def _delete_security_group(self, aws: _Clients) -> None:
        vpc_id = _default_vpc_id(aws.ec2)
        group_id = self._find_security_group(aws.ec2, vpc_id) if vpc_id else None
        if group_id is not None:
            # The cluster's network interfaces can linger briefly after deletion; no waiter
            # covers that, so retry DependencyViolation within the usual bounds.
            self._poll_until(
                lambda: _try_delete_group(aws.ec2, group_id), "delete the security group of"
            )
            logger.info("Deleted security group %s (%s).", self._security_group_name, group_id)


# ---------------------------------------------------------------------------- free functions


def bucket_read_policy(bucket: str, prefix: str = "") -> dict[str, Any]:
    """Least privilege for Redshift COPY: list the bucket under `prefix`, get those objects."""
    list_bucket: dict[str, Any] = {
        "Sid": "ListSparkifyData",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}"],
    }
    if prefix:
        list_bucket["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            list_bucket,
            {
                "Sid": "ReadSparkifyData",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
            },
        ],
    }


class _MaskSecret(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, "***"), ()
        return True


@contextmanager
def _password_masked_in_wire_log(password: str) -> Iterator[None]:
    """botocore's DEBUG wire log prints request bodies, so mask the password while it is sent."""
    wire_log = logging.getLogger("botocore.endpoint")
    mask = _MaskSecret(password)
    wire_log.addFilter(mask)
    try:
        yield
    finally:
        wire_log.removeFilter(mask)


def _explain(error: ClientError, action: str, subject: str) -> str:
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    reason = _ERROR_HINTS.get(code, message or "AWS returned an error")
    return f"cannot {action} {subject}: {reason} ({code})"


def _parse_ingress(cidr: str | None, *, allow_world: bool) -> IpNetwork | None:
    if cidr is None:
        return None
    try:
        network = ipaddress.ip_network(cidr.strip())
    except ValueError as error:
        raise ClusterError(f"invalid ingress CIDR {cidr!r}: {error}") from error
    if network.prefixlen == 0 and not allow_world:
        raise ClusterError(
            f"refusing to open tcp/{REDSHIFT_PORT} to the whole internet ({network}); "
            "pass allow_world=True if you really mean it"
        )
    return network


def _redshift_permission(network: IpNetwork) -> dict[str, Any]:
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": str(network), "Description": "Sparkify Redshift client"}]}
        if network.version == 6
        else {"IpRanges": [{"CidrIp": str(network), "Description": "Sparkify Redshift client"}]}
    )
    return {"IpProtocol": "tcp", "FromPort": REDSHIFT_PORT, "ToPort": REDSHIFT_PORT, **ranges}


def _open_cidrs(ec2: Any, group_id: str) -> tuple[str, ...]:
    """CIDRs that can reach TCP 5439 through the group, including all-traffic rules."""
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    cidrs: list[str] = []
    for permission in group.get("IpPermissions", []):
        all_traffic = permission.get("IpProtocol") == "-1"
        covers_port = permission.get("IpProtocol") == "tcp" and (
            permission.get("FromPort", 0) <= REDSHIFT_PORT <= permission.get("ToPort", -1)
        )
        if all_traffic or covers_port:
            cidrs += [r["CidrIp"] for r in permission.get("IpRanges", [])]
            cidrs += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
    return tuple(dict.fromkeys(cidrs))


def _try_delete_group(ec2: Any, group_id: str) -> bool:
    try:
        ec2.delete_security_group(GroupId=group_id)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "DependencyViolation":
            return False
        if code != "InvalidGroup.NotFound":
            raise
    return True


def _default_vpc_id(ec2: Any) -> str | None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return vpcs[0]["VpcId"] if vpcs else None


def _security_group_of(cluster: dict[str, Any]) -> str | None:
    groups = cluster.get("VpcSecurityGroups") or []
    return groups[0]["VpcSecurityGroupId"] if groups else None


def _attached_role_arn(cluster: dict[str, Any]) -> str | None:
    roles = cluster.get("IamRoles") or []
    return roles[0]["IamRoleArn"] if roles else None


def _attached_policy_arns(iam: Any, role_name: str) -> list[str]:
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name)
    return [policy["PolicyArn"] for page in pages for policy in page["AttachedPolicies"]]


def _inline_policy_names(iam: Any, role_name: str) -> list[str]:
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
    return [name for page in pages for name in page["PolicyNames"]]


def _env(name: str, default: str) -> str:
    # An exported-but-empty variable means "not set", as shells make that easy to do by mistake.
    return os.environ.get(name) or default


def _env_positive_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ClusterError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def _split_s3_uri(uri: str) -> tuple[str | None, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        return None, ""
    return parsed.netloc, parsed.path.lstrip("/")


# ------------------------------------------------------------------------------ Dagster jobs


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
    context: OpExecutionContext, config: ClusterUpConfig, cluster: RedshiftCluster
) -> ClusterInfo:
    return _report(context, cluster.up(config.ingress_cidr))


@op(description="Delete the Redshift cluster, its security group and its IAM role.")
def tear_down_redshift_cluster(
    context: OpExecutionContext, config: ClusterDownConfig, cluster: RedshiftCluster
) -> ClusterInfo:
    return _report(context, cluster.down(config.final_snapshot_id))


@op(description="Pause the Redshift cluster to stop paying for compute.")
def pause_redshift_cluster(context: OpExecutionContext, cluster: RedshiftCluster) -> ClusterInfo:
    return _report(context, cluster.pause())


@op(description="Resume the paused Redshift cluster.")
def resume_redshift_cluster(context: OpExecutionContext, cluster: RedshiftCluster) -> ClusterInfo:
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

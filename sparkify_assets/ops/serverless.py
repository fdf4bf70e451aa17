"""Redshift Serverless: a namespace (the data) and a workgroup (the compute), plain boto3.

``sparkify cluster up --serverless`` makes the same read-only S3 role and the same security group
(tcp/5439 open only to the CIDR given) as the provisioned cluster, then the namespace with that
role as its default, then a workgroup in the default VPC's subnets. Serverless bills per
RPU-second while it works and has no pause; ``status`` and ``down`` work as for a cluster.

Nobody handles an admin password: the namespace is created with ``manageAdminPassword`` (AWS keeps
it in Secrets Manager) and runs log in with IAM credentials (``GetCredentials``).

botocore has no waiters for redshift-serverless, so waiting is bounded polling
(``poll_seconds`` x ``max_wait_attempts``). moto does not implement the service: the tests drive
it with botocore's ``Stubber``, which checks every request against the service model.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from sparkify_assets.ops.aws_clients import AwsClients
from sparkify_assets.ops.aws_errors import ClusterError, error_code
from sparkify_assets.ops.iam import serverless_loading_policy
from sparkify_assets.ops.lifecycle import ABSENT, ClusterInfo, Progress, progress_or_default
from sparkify_assets.ops.network import REDSHIFT_PORT, default_vpc_id, open_cidrs, parse_ingress
from sparkify_assets.ops.target import RedshiftTarget

logger = logging.getLogger(__name__)

KIND = "Serverless workgroup"
DEFAULT_NAME = "sparkify"
NO_PAUSE = (
    "Redshift Serverless has no pause: it bills per RPU-second only while it runs queries, "
    "so there is nothing to pause or resume"
)


class RedshiftServerless(RedshiftTarget):
    """Creates, inspects and deletes the Sparkify Serverless namespace and workgroup."""

    namespace: str = DEFAULT_NAME
    workgroup: str = DEFAULT_NAME
    admin_user: str = "sparkify_admin"
    base_capacity: int = Field(default=8, ge=4, description="Base RPUs of the workgroup.")

    @property
    def _owner(self) -> str:
        return self.workgroup

    @property
    def _subject(self) -> str:
        return f"Redshift {KIND} {self.workgroup!r}"

    # ----------------------------------------------------------------------- public lifecycle

    def up(self, ingress_cidr: str | None = None, *, allow_world: bool = False) -> ClusterInfo:
        """Make the namespace and workgroup exist and be available; safe to repeat."""
        network = parse_ingress(ingress_cidr, allow_world=allow_world)
        aws = self._clients()
        role_arn = self._ensure_role(aws)
        with self._errors("bring up"):
            self._ensure_namespace(aws, role_arn)
            group_id = self._group(aws).ensure(self._subject)
            workgroup = self._ensure_workgroup(aws, group_id)
            self._open_ingress(aws, group_id, network)
            info = self._info(aws, workgroup, role_arn)
        logger.info("%s", info.summary())
        return info

    def status(self) -> ClusterInfo:
        aws = self._clients()
        with self._errors("describe"):
            workgroup = self._workgroup(aws)
            if workgroup is None:
                return self._absent_info()
            return self._info(aws, workgroup, self._default_role(aws))

    def ensure_available(
        self, progress: Progress | None = None, *, action: str = "connect to"
    ) -> ClusterInfo:
        """Wait for a workgroup being created or modified; an available one costs one call."""
        aws = self._clients()
        with self._errors(action):
            workgroup = self._workgroup(aws)
            if workgroup is None or workgroup["status"] == "DELETING":
                state = "does not exist" if workgroup is None else "is being deleted"
                raise ClusterError(f"cannot {action} {self._subject}: it {state}")
            if workgroup["status"] != "AVAILABLE":
                progress_or_default(progress).info(
                    "%s is %s: waiting for it.", self._subject, workgroup["status"].lower()
                )
                workgroup = self._wait_for_workgroup(aws)
            return self._info(aws, workgroup, None, ingress=False)

    def pause(self, progress: Progress | None = None) -> ClusterInfo:
        raise ClusterError(f"cannot pause {self._subject}: {NO_PAUSE}")

    def resume(self, progress: Progress | None = None) -> ClusterInfo:
        raise ClusterError(f"cannot resume {self._subject}: {NO_PAUSE}")

    def down(self, final_snapshot_id: str | None = None) -> ClusterInfo:
        """Delete the workgroup, the namespace, the security group and the role."""
        aws = self._clients()
        with self._errors("tear down"):
            if self._workgroup(aws) is not None:
                _ignore_missing(aws.serverless.delete_workgroup, workgroupName=self.workgroup)
                self._poll_until(lambda: self._workgroup(aws) is None, "delete")
            if self._namespace(aws) is not None:
                snapshot = {"finalSnapshotName": final_snapshot_id} if final_snapshot_id else {}
                _ignore_missing(
                    aws.serverless.delete_namespace, namespaceName=self.namespace, **snapshot
                )
                self._poll_until(lambda: self._namespace(aws) is None, "delete the namespace of")
            self._delete_security_group(aws)
        logger.info("Deleted %s and %s.", self._subject, self._delete_role(aws))
        return self._absent_info()

    def loading_policy(self) -> dict[str, Any]:
        """The IAM policy the identity that runs the loads needs (``iam``)."""
        aws = self._clients()
        with self._errors("write the loading policy of"):
            workgroup = self._workgroup(aws)
            # The ARN names the workgroup by its id, known once it exists.
            arn = (
                workgroup["workgroupArn"]
                if workgroup
                else aws.arn("redshift-serverless", "workgroup/*")
            )
        return serverless_loading_policy(arn)

    # ------------------------------------------------------------------------------ plumbing

    def _namespace(self, aws: AwsClients) -> dict[str, Any] | None:
        return _found(aws.serverless.get_namespace, "namespace", namespaceName=self.namespace)

    def _workgroup(self, aws: AwsClients) -> dict[str, Any] | None:
        return _found(aws.serverless.get_workgroup, "workgroup", workgroupName=self.workgroup)

    def _default_role(self, aws: AwsClients) -> str | None:
        namespace = self._namespace(aws)
        return None if namespace is None else namespace.get("defaultIamRoleArn")

    def _ensure_namespace(self, aws: AwsClients, role_arn: str) -> None:
        namespace = self._namespace(aws)
        if namespace is None:
            aws.serverless.create_namespace(
                namespaceName=self.namespace,
                dbName=self.database,
                adminUsername=self.admin_user,
                manageAdminPassword=True,
                iamRoles=[role_arn],
                defaultIamRoleArn=role_arn,
            )
            logger.info("Creating Redshift Serverless namespace %r.", self.namespace)
        elif role_arn not in namespace.get("iamRoles", []):
            logger.warning(
                "Redshift Serverless namespace %r exists without IAM role %r, so COPY from S3 "
                "will be denied; add it with `aws redshift-serverless update-namespace`.",
                self.namespace,
                self.role_name,
            )
        self._poll_until(
            lambda: (self._namespace(aws) or {}).get("status") == "AVAILABLE",
            "create the namespace of",
        )

    def _ensure_workgroup(self, aws: AwsClients, group_id: str) -> dict[str, Any]:
        if self._workgroup(aws) is None:
            aws.serverless.create_workgroup(
                workgroupName=self.workgroup,
                namespaceName=self.namespace,
                baseCapacity=self.base_capacity,
                publiclyAccessible=self.publicly_accessible,
                securityGroupIds=[group_id],
                subnetIds=self._default_subnets(aws),
                port=REDSHIFT_PORT,
            )
            logger.info(
                "Creating %s (%s RPUs); waiting until it is available.",
                self._subject,
                self.base_capacity,
            )
        else:
            logger.info("Reusing existing %s.", self._subject)
        return self._wait_for_workgroup(aws)

    def _wait_for_workgroup(self, aws: AwsClients) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def available() -> bool:
            workgroup = self._workgroup(aws)
            if workgroup is None:
                raise ClusterError(f"cannot wait for {self._subject}: it disappeared")
            found[:] = [workgroup]
            return workgroup["status"] == "AVAILABLE"

        self._poll_until(available, "wait for")
        return found[0]

    def _default_subnets(self, aws: AwsClients) -> list[str]:
        vpc_id = default_vpc_id(aws.ec2)
        pages = aws.ec2.get_paginator("describe_subnets").paginate(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
        return [subnet["SubnetId"] for page in pages for subnet in page["Subnets"]]

    def _info(
        self, aws: AwsClients, workgroup: dict[str, Any], role_arn: str | None, ingress: bool = True
    ) -> ClusterInfo:
        endpoint = workgroup.get("endpoint") or {}
        groups = workgroup.get("securityGroupIds") or []
        return ClusterInfo(
            identifier=self.workgroup,
            status=workgroup["status"].lower(),
            endpoint_host=endpoint.get("address"),
            endpoint_port=endpoint.get("port"),
            role_arn=role_arn,
            ingress=open_cidrs(aws.ec2, groups[0]) if groups and ingress else (),
            kind=KIND,
        )

    def _absent_info(self) -> ClusterInfo:
        return ClusterInfo(self.workgroup, ABSENT, None, None, None, (), kind=KIND)


def _found(call, key: str, **params: str) -> dict[str, Any] | None:
    try:
        return call(**params)[key]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise


def _ignore_missing(call, **params: Any) -> None:
    try:
        call(**params)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise

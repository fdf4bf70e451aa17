"""The IAM role Redshift assumes for COPY, and the policy documents it carries.

The role may only *read* S3: the Sparkify data bucket under its prefix when one is configured,
else any bucket through the AWS-managed read-only policy. Creating it again re-asserts the trust
policy, so a hand-edited role cannot drift from what Redshift needs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sparkify_assets.ops.aws_errors import error_code

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class S3ReadRole:
    """The role ``name`` that lets Redshift cluster ``cluster_id`` read the data."""

    iam: Any
    name: str
    cluster_id: str

    @property
    def subject(self) -> str:
        return f"IAM role {self.name!r}"

    def ensure(self, bucket: str | None, prefix: str, waiter_config: dict[str, int]) -> str:
        """Create or update the role and its read grant; return its ARN."""
        arn = self._create_or_update(waiter_config)
        if bucket:
            self._grant_bucket_read(bucket, prefix)
        else:
            self._grant_any_bucket_read()
        return arn

    def delete(self) -> None:
        """Detach and delete every policy, then the role; a missing role is fine."""
        try:
            for policy_arn in self._attached_policy_arns():
                self.iam.detach_role_policy(RoleName=self.name, PolicyArn=policy_arn)
            for policy_name in self._inline_policy_names():
                self.iam.delete_role_policy(RoleName=self.name, PolicyName=policy_name)
            self.iam.delete_role(RoleName=self.name)
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise

    def _create_or_update(self, waiter_config: dict[str, int]) -> str:
        trust_policy = json.dumps(REDSHIFT_TRUST_POLICY)
        try:
            role = self.iam.get_role(RoleName=self.name)["Role"]
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            role = self.iam.create_role(
                RoleName=self.name,
                AssumeRolePolicyDocument=trust_policy,
                Description=f"Lets Redshift cluster {self.cluster_id} read Sparkify data from S3",
            )["Role"]
            self.iam.get_waiter("role_exists").wait(RoleName=self.name, WaiterConfig=waiter_config)
            logger.info("Created %s.", self.subject)
            return role["Arn"]
        self.iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=trust_policy)
        logger.info("Reusing %s.", self.subject)
        return role["Arn"]

    def _grant_bucket_read(self, bucket: str, prefix: str) -> None:
        self.iam.put_role_policy(
            RoleName=self.name,
            PolicyName=S3_READ_POLICY_NAME,
            PolicyDocument=json.dumps(bucket_read_policy(bucket, prefix)),
        )
        # A bucket was configured after the fact: drop the broad grant an earlier run made.
        if S3_READ_ONLY_MANAGED_POLICY in self._attached_policy_arns():
            self.iam.detach_role_policy(RoleName=self.name, PolicyArn=S3_READ_ONLY_MANAGED_POLICY)

    def _grant_any_bucket_read(self) -> None:
        self.iam.attach_role_policy(RoleName=self.name, PolicyArn=S3_READ_ONLY_MANAGED_POLICY)
        if S3_READ_POLICY_NAME in self._inline_policy_names():
            self.iam.delete_role_policy(RoleName=self.name, PolicyName=S3_READ_POLICY_NAME)

    def _attached_policy_arns(self) -> list[str]:
        pages = self.iam.get_paginator("list_attached_role_policies").paginate(RoleName=self.name)
        return [policy["PolicyArn"] for page in pages for policy in page["AttachedPolicies"]]

    def _inline_policy_names(self) -> list[str]:
        pages = self.iam.get_paginator("list_role_policies").paginate(RoleName=self.name)
        return [name for page in pages for name in page["PolicyNames"]]


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def cluster_loading_policy(
    cluster_arn: str,
    database: str,
    db_user: str = "",
    *,
    db_groups: tuple[str, ...] = (),
    auto_create: bool = False,
) -> dict[str, Any]:
    """Least privilege for whoever runs the loads on a provisioned cluster with IAM auth.

    It may look the cluster up, resume it (and tag when), pause it when idle, and get temporary
    credentials for the one database: as ``db_user`` (created on first login with
    ``auto_create``, joining ``db_groups``), or, without one, as its own IAM identity.
    """
    prefix, cluster_id = cluster_arn.rsplit(":cluster:", 1)
    dbname = f"{prefix}:dbname:{cluster_id}/{database}"
    statements = [
        _statement(
            "LookUpResumeAndPauseTheCluster",
            [
                "redshift:DescribeClusters",
                "redshift:ResumeCluster",
                "redshift:PauseCluster",
                "redshift:CreateTags",
            ],
            [cluster_arn],
        )
    ]
    if db_user:
        dbuser = f"{prefix}:dbuser:{cluster_id}/{db_user}"
        statements.append(
            _statement(
                "TemporaryDatabaseCredentials", ["redshift:GetClusterCredentials"], [dbuser, dbname]
            )
        )
        if auto_create:
            statements.append(
                _statement("CreateTheDatabaseUser", ["redshift:CreateClusterUser"], [dbuser])
            )
        if db_groups:
            groups = [f"{prefix}:dbgroup:{cluster_id}/{group}" for group in db_groups]
            statements.append(_statement("JoinTheDatabaseGroups", ["redshift:JoinGroup"], groups))
    else:
        statements.append(
            _statement(
                "TemporaryDatabaseCredentials", ["redshift:GetClusterCredentialsWithIAM"], [dbname]
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def serverless_loading_policy(workgroup_arn: str) -> dict[str, Any]:
    """Least privilege for whoever runs the loads on Redshift Serverless (IAM auth)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "LookUpTheWorkgroupAndGetTemporaryCredentials",
                ["redshift-serverless:GetWorkgroup", "redshift-serverless:GetCredentials"],
                [workgroup_arn],
            )
        ],
    }

"""What a provisioned cluster and a Serverless workgroup share: the S3 read role, the security
group, the region's clients, bounded polling, and one-line errors without secrets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from sparkify_assets.ingest.s3_uri import validate_s3_uri
from sparkify_assets.ops.aws_clients import AwsClients
from sparkify_assets.ops.aws_errors import ClusterError, aws_errors
from sparkify_assets.ops.iam import S3ReadRole
from sparkify_assets.ops.lifecycle import Clock
from sparkify_assets.ops.network import REDSHIFT_PORT, ClusterSecurityGroup, IpNetwork

logger = logging.getLogger(__name__)

DEFAULT_ROLE_NAME = "sparkify-redshift-s3-read"
DEFAULT_DATABASE = "sparkify"


def data_location(uri: str) -> tuple[str | None, str]:
    """(bucket, prefix ending in "/") the role may read, or (None, "") for a local folder."""
    if not uri.startswith("s3://"):
        return None, ""
    location = validate_s3_uri(uri)
    return location.bucket, f"{location.prefix}/" if location.prefix else ""


class RedshiftTarget(BaseModel):
    """Base of ``RedshiftCluster`` and ``RedshiftServerless``."""

    model_config = ConfigDict(frozen=True)

    role_name: str = DEFAULT_ROLE_NAME
    database: str = DEFAULT_DATABASE
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
    clock: Clock = Field(default=time.time, exclude=True, repr=False)

    # What the role, the security group and messages are named after (cluster or workgroup id).
    @property
    def _owner(self) -> str:
        raise NotImplementedError

    @property
    def _subject(self) -> str:
        raise NotImplementedError

    @property
    def _secret(self) -> str:
        """A value no error message may show (the master password, when there is one)."""
        return ""

    def ensure_role(self) -> str:
        """Create or update the read-only S3 role Redshift assumes for COPY; return its ARN."""
        return self._ensure_role(self._clients())

    def _errors(self, action: str):
        return aws_errors(action, self._subject, self._secret)

    def _clients(self) -> AwsClients:
        with self._errors("connect for"):
            return AwsClients(self.region)

    def _role(self, aws: AwsClients) -> S3ReadRole:
        return S3ReadRole(aws.iam, self.role_name, self._owner)

    def _group(self, aws: AwsClients) -> ClusterSecurityGroup:
        return ClusterSecurityGroup(aws.ec2, self._owner)

    def _waiter_config(self) -> dict[str, int]:
        return {"Delay": self.poll_seconds, "MaxAttempts": self.max_wait_attempts}

    def _ensure_role(self, aws: AwsClients) -> str:
        role = self._role(aws)
        with aws_errors("set up", role.subject, self._secret):
            return role.ensure(self.data_bucket, self.data_prefix, self._waiter_config())

    def _delete_role(self, aws: AwsClients) -> str:
        role = self._role(aws)
        with aws_errors("delete", role.subject, self._secret):
            role.delete()
        return role.subject

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

    def _open_ingress(
        self, aws: AwsClients, group_id: str | None, network: IpNetwork | None
    ) -> None:
        """Open tcp/5439 of the group to ``network`` only; None opens nothing, and says so."""
        if network is None:
            # Under the subclass's module, where operators and tests look for lifecycle lines.
            logging.getLogger(type(self).__module__).info(
                "No ingress CIDR given: opened nothing on tcp/%s of %s.",
                REDSHIFT_PORT,
                self._subject,
            )
        else:
            self._group(aws).open_ingress(group_id, network, self._subject)

    def _delete_security_group(self, aws: AwsClients) -> None:
        group = self._group(aws)
        group_id = group.existing_id()
        if group_id is not None:
            # The deleted target's network interfaces can linger briefly; no waiter covers
            # that, so retry DependencyViolation within the usual bounds.
            self._poll_until(lambda: group.try_delete(group_id), "delete the security group of")
            logger.info("Deleted security group %s (%s).", group.name, group_id)

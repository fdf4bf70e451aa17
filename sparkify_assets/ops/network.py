"""Who can reach the cluster: its own security group and the one CIDR opened on TCP 5439.

Nothing is opened unless the caller names a CIDR, and the whole internet (0.0.0.0/0, ::/0)
needs an explicit ``allow_world=True``. The group is the cluster's own: without
VpcSecurityGroupIds AWS would attach the default VPC's *default* group, which other resources
share; opening 5439 there would widen their exposure too, and ``down`` could not remove it.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sparkify_assets.ops.aws_errors import ClusterError, error_code

logger = logging.getLogger(__name__)

REDSHIFT_PORT = 5439
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ingress(cidr: str | None, *, allow_world: bool) -> IpNetwork | None:
    """The network to open, checked before anything is created; None opens nothing."""
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


def redshift_permission(network: IpNetwork) -> dict[str, Any]:
    description = "Sparkify Redshift client"
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": str(network), "Description": description}]}
        if network.version == 6
        else {"IpRanges": [{"CidrIp": str(network), "Description": description}]}
    )
    return {"IpProtocol": "tcp", "FromPort": REDSHIFT_PORT, "ToPort": REDSHIFT_PORT, **ranges}


def open_cidrs(ec2: Any, group_id: str) -> tuple[str, ...]:
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


def security_group_of(cluster: dict[str, Any]) -> str | None:
    groups = cluster.get("VpcSecurityGroups") or []
    return groups[0]["VpcSecurityGroupId"] if groups else None


def default_vpc_id(ec2: Any) -> str | None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return vpcs[0]["VpcId"] if vpcs else None


@dataclass(frozen=True)
class ClusterSecurityGroup:
    """The security group ``{cluster_id}-redshift`` in the default VPC."""

    ec2: Any
    cluster_id: str

    @property
    def name(self) -> str:
        return f"{self.cluster_id}-redshift"

    def ensure(self, subject: str) -> str:
        """The group's id, created when missing; ``subject`` names the cluster in errors."""
        vpc_id = default_vpc_id(self.ec2)
        if vpc_id is None:
            raise ClusterError(
                f"cannot create {subject}: no default VPC in this region "
                "(create one with `aws ec2 create-default-vpc`)"
            )
        existing = self._find(vpc_id)
        if existing is not None:
            return existing
        group_id = self.ec2.create_security_group(
            GroupName=self.name,
            Description=f"Client access to Redshift cluster {self.cluster_id}",
            VpcId=vpc_id,
        )["GroupId"]
        logger.info("Created security group %s (%s).", self.name, group_id)
        return group_id

    def existing_id(self) -> str | None:
        vpc_id = default_vpc_id(self.ec2)
        return self._find(vpc_id) if vpc_id else None

    def _find(self, vpc_id: str) -> str | None:
        groups = self.ec2.describe_security_groups(
            Filters=[
                {"Name": "group-name", "Values": [self.name]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ]
        )["SecurityGroups"]
        return groups[0]["GroupId"] if groups else None

    def open_ingress(self, group_id: str | None, network: IpNetwork, subject: str) -> None:
        """Open TCP 5439 of ``group_id`` to ``network``; an existing rule is fine."""
        if group_id is None:
            raise ClusterError(f"cannot open ingress to {subject}: it has no VPC security group")
        try:
            self.ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[redshift_permission(network)]
            )
            logger.info("Opened tcp/%s of %s to %s.", REDSHIFT_PORT, group_id, network)
        except ClientError as error:
            if error_code(error) != "InvalidPermission.Duplicate":
                raise
            logger.info("tcp/%s of %s is already open to %s.", REDSHIFT_PORT, group_id, network)

    def try_delete(self, group_id: str) -> bool:
        """Delete the group; False while the deleted cluster's interfaces still hold it."""
        try:
            self.ec2.delete_security_group(GroupId=group_id)
        except ClientError as error:
            if error_code(error) == "DependencyViolation":
                return False
            if error_code(error) != "InvalidGroup.NotFound":
                raise
        return True

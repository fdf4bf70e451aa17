"""Redshift Serverless with botocore's ``Stubber``: moto does not implement redshift-serverless.

The Stubber checks every request against the service model (names, types, required members)
and answers with the responses queued here, in order; ``assert_no_pending_responses`` proves
each expected call was made. IAM, EC2 and STS (the role, the security group, the subnets) are
moto's, so the same read-only S3 role and ingress rules as the provisioned cluster are checked
for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import psycopg2
import pytest
from botocore.stub import Stubber

from sparkify_assets.core.settings import SettingsError
from sparkify_assets.defs import redshift as redshift_defs
from sparkify_assets.defs.redshift import RedshiftResource
from sparkify_assets.ops.aws_clients import AwsClients
from sparkify_assets.ops.aws_errors import ClusterError
from sparkify_assets.ops.network import REDSHIFT_PORT, ClusterSecurityGroup
from sparkify_assets.ops.target import RedshiftTarget

from .aws_fakes import DATA, JSONPATHS, ROLE_ARN, FakeConnections, moto_aws, safe_aws_environment

WORKGROUP_ARN = "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/0f1e2d3c"
HOST = "sparkify.123456789012.us-east-1.redshift-serverless.amazonaws.com"
NOT_FOUND = "ResourceNotFoundException"


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    safe_aws_environment(monkeypatch, tmp_path)
    monkeypatch.setattr(redshift_defs, "POLL_SECONDS", 0)
    with moto_aws():
        yield


@pytest.fixture
def serverless(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """A stubbed redshift-serverless client handed to every lifecycle call; moto for the rest."""
    client = boto3.client("redshift-serverless", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(
        RedshiftTarget, "_clients", lambda self: AwsClients("us-east-1", {"serverless": client})
    )
    monkeypatch.setattr(
        redshift_defs, "AwsClients", lambda region: AwsClients(region, {"serverless": client})
    )
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def make_resource(**overrides) -> RedshiftResource:
    config = dict(
        workgroup="sparkify",
        namespace="sparkify",
        region="us-east-1",
        iam_role_arn=ROLE_ARN,
        log_jsonpath=JSONPATHS,
        data_uri=DATA,
        auth="iam",
    )
    return RedshiftResource(**{**config, **overrides})


def namespace(status: str = "AVAILABLE", role: str = ROLE_ARN) -> dict:
    return {
        "namespace": {
            "namespaceName": "sparkify",
            "status": status,
            "dbName": "sparkify",
            "iamRoles": [role],
            "defaultIamRoleArn": role,
        }
    }


def workgroup(status: str = "AVAILABLE", group: str = "sg-1") -> dict:
    return {
        "workgroup": {
            "workgroupName": "sparkify",
            "namespaceName": "sparkify",
            "workgroupArn": WORKGROUP_ARN,
            "status": status,
            "securityGroupIds": [group],
            "endpoint": {"address": HOST, "port": REDSHIFT_PORT},
        }
    }


def missing(stubber: Stubber, operation: str, **params: str) -> None:
    stubber.add_client_error(operation, NOT_FOUND, "not found", 404, expected_params=params)


def security_group() -> dict:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["sparkify-redshift"]}]
    )["SecurityGroups"]
    return group


def test_up_creates_namespace_and_workgroup_with_the_read_only_role_and_one_cidr(
    serverless: Stubber,
) -> None:
    # The group up() makes (and reuses) exists first, so the requests can name it exactly.
    ec2 = boto3.client("ec2", region_name="us-east-1")
    group_id = ClusterSecurityGroup(ec2, "sparkify").ensure("the test")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    role = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
    missing(serverless, "get_namespace", namespaceName="sparkify")
    serverless.add_response(
        "create_namespace",
        namespace("MODIFYING"),
        {
            "namespaceName": "sparkify",
            "dbName": "sparkify",
            "adminUsername": "sparkify_admin",
            "manageAdminPassword": True,
            "iamRoles": [role],
            "defaultIamRoleArn": role,
        },
    )
    serverless.add_response("get_namespace", namespace("MODIFYING"), {"namespaceName": "sparkify"})
    serverless.add_response("get_namespace", namespace(), {"namespaceName": "sparkify"})
    missing(serverless, "get_workgroup", workgroupName="sparkify")
    serverless.add_response(
        "create_workgroup",
        workgroup("CREATING", group_id),
        {
            "workgroupName": "sparkify",
            "namespaceName": "sparkify",
            "baseCapacity": 8,
            "publiclyAccessible": True,
            "securityGroupIds": [group_id],
            "subnetIds": [subnet["SubnetId"] for subnet in subnets["Subnets"]],
            "port": REDSHIFT_PORT,
        },
    )
    for status in ("CREATING", "AVAILABLE"):
        serverless.add_response(
            "get_workgroup", workgroup(status, group_id), {"workgroupName": "sparkify"}
        )

    info = make_resource().up("203.0.113.7/32")

    assert (info.status, info.endpoint, info.kind) == (
        "available",
        f"{HOST}:{REDSHIFT_PORT}",
        "Serverless workgroup",
    )
    assert info.role_arn == role and info.ingress == ("203.0.113.7/32",)
    rules = security_group()["IpPermissions"]
    assert [(r["FromPort"], [i["CidrIp"] for i in r["IpRanges"]]) for r in rules] == [
        (REDSHIFT_PORT, ["203.0.113.7/32"])
    ]
    iam = boto3.client("iam")
    trust = iam.get_role(RoleName="sparkify-redshift-s3-read")["Role"]
    assert trust["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "redshift.amazonaws.com"
    }
    assert iam.list_role_policies(RoleName="sparkify-redshift-s3-read")["PolicyNames"] == [
        "sparkify-s3-read"
    ]


def test_status_reports_the_workgroup_and_absent_when_there_is_none(serverless: Stubber) -> None:
    group_id = ClusterSecurityGroup(boto3.client("ec2"), "sparkify").ensure("the test")
    serverless.add_response(
        "get_workgroup", workgroup(group=group_id), {"workgroupName": "sparkify"}
    )
    serverless.add_response("get_namespace", namespace(), {"namespaceName": "sparkify"})
    missing(serverless, "get_workgroup", workgroupName="sparkify")

    info = make_resource().status()
    assert (info.status, info.endpoint_host, info.role_arn) == ("available", HOST, ROLE_ARN)
    assert info.ingress == () and "closed" in info.summary()
    assert make_resource().status().status == "absent"


def test_down_deletes_workgroup_then_namespace_and_is_idempotent(serverless: Stubber) -> None:
    serverless.add_response("get_workgroup", workgroup(), {"workgroupName": "sparkify"})
    serverless.add_response(
        "delete_workgroup", workgroup("DELETING"), {"workgroupName": "sparkify"}
    )
    serverless.add_response("get_workgroup", workgroup("DELETING"), {"workgroupName": "sparkify"})
    missing(serverless, "get_workgroup", workgroupName="sparkify")
    serverless.add_response("get_namespace", namespace(), {"namespaceName": "sparkify"})
    serverless.add_response(
        "delete_namespace",
        namespace("DELETING"),
        {"namespaceName": "sparkify", "finalSnapshotName": "sparkify-final"},
    )
    missing(serverless, "get_namespace", namespaceName="sparkify")
    # Again: nothing left to delete.
    missing(serverless, "get_workgroup", workgroupName="sparkify")
    missing(serverless, "get_namespace", namespaceName="sparkify")

    assert make_resource().down("sparkify-final").status == "absent"
    assert make_resource().down().status == "absent"


def test_serverless_has_no_pause(serverless: Stubber) -> None:
    for action in ("pause", "resume"):
        with pytest.raises(ClusterError, match=f"cannot {action} .*Serverless has no pause"):
            getattr(make_resource(), action)()


def test_a_run_connects_with_get_credentials(
    serverless: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = FakeConnections()
    monkeypatch.setattr(psycopg2, "connect", connections)
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    serverless.add_response("get_workgroup", workgroup(), {"workgroupName": "sparkify"})
    serverless.add_response(
        "get_credentials",
        {"dbUser": "IAMR:sparkify-loader", "dbPassword": "Serverless-Pa55", "expiration": expires},
        {"workgroupName": "sparkify", "dbName": "sparkify", "durationSeconds": 3600},
    )

    warehouse = make_resource().warehouse()
    warehouse.query("SELECT 1")

    (opened,) = connections.opened
    assert (opened["host"], opened["port"], opened["dbname"]) == (HOST, 5439, "sparkify")
    assert (opened["user"], opened["password"]) == ("IAMR:sparkify-loader", "Serverless-Pa55")
    assert warehouse.load_errors_view == "sys_load_error_detail"  # it exists on Serverless
    with pytest.raises(
        SettingsError, match="stl_load_errors does not exist on Redshift Serverless"
    ):
        make_resource(load_errors_view="stl_load_errors").warehouse()


def test_the_loading_policy_names_the_workgroup(serverless: Stubber) -> None:
    serverless.add_response("get_workgroup", workgroup(), {"workgroupName": "sparkify"})

    (statement,) = make_resource().loading_policy()["Statement"]
    assert statement["Action"] == [
        "redshift-serverless:GetWorkgroup",
        "redshift-serverless:GetCredentials",
    ]
    assert statement["Resource"] == [WORKGROUP_ARN]


def test_cli_serverless_status_and_no_pause(
    serverless: Stubber, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from sparkify_assets.cli import main as cli

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("REDSHIFT_WORKGROUP", raising=False)
    group_id = ClusterSecurityGroup(boto3.client("ec2"), "sparkify").ensure("the test")
    serverless.add_response(
        "get_workgroup", workgroup(group=group_id), {"workgroupName": "sparkify"}
    )
    serverless.add_response("get_namespace", namespace(), {"namespaceName": "sparkify"})

    assert cli.main(["cluster", "status", "--serverless"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"available {HOST}:{REDSHIFT_PORT}"
    assert cli.main(["cluster", "pause", "--serverless"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sparkify: cannot pause Redshift Serverless workgroup 'sparkify': ")
    assert "has no pause" in err and err.count("\n") == 1

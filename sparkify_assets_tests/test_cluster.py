"""The Redshift cluster lifecycle against moto: in process (mock_aws) and over loopback HTTP."""

import json
import logging
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from moto.server import ThreadedMotoServer

from sparkify_assets.core.settings import SettingsError
from sparkify_assets.defs.cluster_jobs import CLUSTER_JOBS, redshift_cluster_up
from sparkify_assets.defs.redshift import RedshiftResource
from sparkify_assets.ops.aws_errors import ClusterError
from sparkify_assets.ops.cluster import ABSENT, RedshiftCluster
from sparkify_assets.ops.iam import S3_READ_ONLY_MANAGED_POLICY, S3_READ_POLICY_NAME
from sparkify_assets.ops.network import REDSHIFT_PORT

PASSWORD = "Zebra-Secret-42"
BUCKET = "sparkify-data"
PREFIX = "raw/"
ROLE = "sparkify-redshift-s3-read"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials and no host AWS config, so nothing can ever reach real AWS."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Moto would otherwise parse its AMI catalogue for every test; nothing here needs it.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "MOTO_IAM_LOAD_MANAGED_POLICIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module", autouse=True)
def shared_boto3_session() -> Iterator[None]:
    """One boto3 default session per module, restored afterwards.

    moto would otherwise drop the default session on every mock_aws, and re-parsing the
    IAM/EC2/Redshift service models costs a quarter of a second per test.
    """
    with patch("boto3.DEFAULT_SESSION", None):
        yield


def fresh_mock_aws() -> Any:
    return mock_aws(config={"core": {"reset_boto3_session": False}})


@pytest.fixture
def aws() -> Iterator[None]:
    with fresh_mock_aws():
        yield


def make_cluster(**overrides: Any) -> RedshiftCluster:
    settings: dict[str, Any] = {
        "master_password": PASSWORD,
        "data_bucket": BUCKET,
        "data_prefix": PREFIX,
        "poll_seconds": 0,
        "max_wait_attempts": 3,
    }
    return RedshiftCluster(**{**settings, **overrides})


def describe_cluster(cluster_id: str = "sparkify") -> dict[str, Any]:
    return boto3.client("redshift").describe_clusters(ClusterIdentifier=cluster_id)["Clusters"][0]


def cluster_ids() -> list[str]:
    pages = boto3.client("redshift").get_paginator("describe_clusters").paginate()
    return [cluster["ClusterIdentifier"] for page in pages for cluster in page["Clusters"]]


def role_names() -> list[str]:
    pages = boto3.client("iam").get_paginator("list_roles").paginate()
    return [role["RoleName"] for page in pages for role in page["Roles"]]


def redshift_port_rules(cluster_id: str = "sparkify") -> list[dict[str, Any]]:
    """Every (rule, CIDR) pair on the cluster's security groups that covers TCP 5439."""
    group_ids = [g["VpcSecurityGroupId"] for g in describe_cluster(cluster_id)["VpcSecurityGroups"]]
    groups = boto3.client("ec2").describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
    return [
        {"cidr": ip_range["CidrIp"], "protocol": rule["IpProtocol"], "port": rule.get("FromPort")}
        for group in groups
        for rule in group["IpPermissions"]
        if rule["IpProtocol"] == "-1" or rule.get("FromPort") == REDSHIFT_PORT
        for ip_range in rule.get("IpRanges", [])
    ]


def test_up_creates_role_and_available_cluster_with_endpoint(aws: None) -> None:
    info = make_cluster().up()

    assert info.status == "available"
    assert info.endpoint_port == REDSHIFT_PORT
    assert info.endpoint == f"{info.endpoint_host}:{REDSHIFT_PORT}"
    assert info.role_arn.endswith(f":role/{ROLE}")
    cluster = describe_cluster()
    assert cluster["DBName"] == "sparkify"
    assert cluster["MasterUsername"] == "sparkify_admin"
    assert cluster["NodeType"] == "ra3.large"
    assert cluster["NumberOfNodes"] == 1
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [info.role_arn]
    assert len(cluster["VpcSecurityGroups"]) == 1, "a dedicated group, not the shared default"


def test_multi_node_cluster_when_node_count_above_one(aws: None) -> None:
    make_cluster(node_count=2, node_type="ra3.xlplus").up()

    cluster = describe_cluster()
    assert (cluster["NodeType"], cluster["NumberOfNodes"]) == ("ra3.xlplus", 2)


def test_up_twice_is_idempotent(aws: None) -> None:
    cluster = make_cluster()
    first = cluster.up("203.0.113.7/32")
    second = cluster.up("203.0.113.7/32")

    assert second == first
    assert cluster_ids() == ["sparkify"]
    assert role_names() == [ROLE]
    assert redshift_port_rules() == [{"cidr": "203.0.113.7/32", "protocol": "tcp", "port": 5439}]
    groups = boto3.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["sparkify-redshift"]}]
    )["SecurityGroups"]
    assert len(groups) == 1


def test_up_without_cidr_opens_nothing_and_says_so(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sparkify_assets.ops.cluster")

    info = make_cluster().up()

    assert redshift_port_rules() == []
    assert info.ingress == ()
    assert "closed" in info.ingress_summary
    assert "No ingress CIDR given: opened nothing on tcp/5439" in caplog.text


def test_up_with_cidr_opens_exactly_that_cidr_on_5439(aws: None) -> None:
    info = make_cluster().up("198.51.100.0/24")

    assert redshift_port_rules() == [{"cidr": "198.51.100.0/24", "protocol": "tcp", "port": 5439}]
    assert info.ingress == ("198.51.100.0/24",)


def test_single_address_becomes_a_host_cidr(aws: None) -> None:
    assert make_cluster().up("203.0.113.9").ingress == ("203.0.113.9/32",)


@pytest.mark.parametrize("world", ["0.0.0.0/0", "::/0"])
def test_whole_internet_refused_unless_explicitly_allowed(aws: None, world: str) -> None:
    cluster = make_cluster()

    with pytest.raises(ClusterError, match="whole internet.*allow_world=True"):
        cluster.up(world)
    assert cluster_ids() == [] and role_names() == [], "refused before creating anything"

    assert world in cluster.up(world, allow_world=True).ingress


@pytest.mark.parametrize("bad", ["10.0.0.1/24", "not-a-cidr", "10.0.0.0/33"])
def test_malformed_cidr_refused(aws: None, bad: str) -> None:
    with pytest.raises(ClusterError, match="invalid ingress CIDR"):
        make_cluster().up(bad)


def test_role_is_trusted_by_redshift_and_reads_only_the_data_bucket(aws: None) -> None:
    make_cluster().up()
    iam = boto3.client("iam")

    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "redshift.amazonaws.com"}]
    assert [s["Action"] for s in trust["Statement"]] == ["sts:AssumeRole"]
    assert iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []
    (policy_name,) = iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
    policy = iam.get_role_policy(RoleName=ROLE, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(policy, str):
        policy = json.loads(policy)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    assert all(a.startswith(("s3:Get", "s3:List")) for a in actions), actions
    assert resources == {f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/{PREFIX}*"}


def test_up_reuses_a_foreign_cluster_and_warns_about_its_missing_role(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    boto3.client("redshift").create_cluster(
        ClusterIdentifier="sparkify",
        NodeType="ra3.xlplus",
        MasterUsername="someone_else",
        MasterUserPassword="Other-Secret-1",
        ClusterType="single-node",
    )

    assert make_cluster().up().status == "available"
    assert cluster_ids() == ["sparkify"]
    assert f"without IAM role '{ROLE}' attached" in caplog.text
    with pytest.raises(ClusterError, match="has no VPC security group"):
        make_cluster().up("203.0.113.7/32")


def test_pause_and_resume_change_status(aws: None) -> None:
    cluster = make_cluster()
    cluster.up()

    assert cluster.pause().status == "paused"
    assert cluster.pause().status == "paused", "pausing a paused cluster is a no-op"
    assert cluster.resume().status == "available"


def test_up_resumes_a_paused_cluster(aws: None) -> None:
    cluster = make_cluster()
    cluster.up()
    cluster.pause()

    assert cluster.up().status == "available"


def test_pause_without_cluster_is_a_clear_error(aws: None) -> None:
    with pytest.raises(ClusterError, match="cannot pause Redshift cluster 'sparkify'"):
        make_cluster().pause()


def test_down_deletes_cluster_group_and_role_and_is_idempotent(aws: None) -> None:
    cluster = make_cluster()
    cluster.up("203.0.113.7/32")

    assert cluster.down().status == ABSENT
    assert cluster_ids() == []
    assert role_names() == []
    groups = boto3.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["sparkify-redshift"]}]
    )["SecurityGroups"]
    assert groups == []
    assert cluster.down().status == ABSENT


def test_down_with_final_snapshot_keeps_a_snapshot(aws: None) -> None:
    cluster = make_cluster()
    cluster.up()
    cluster.down(final_snapshot_id="sparkify-final")

    snapshots = boto3.client("redshift").describe_cluster_snapshots()["Snapshots"]
    assert [s["SnapshotIdentifier"] for s in snapshots] == ["sparkify-final"]


def test_status_when_absent(aws: None) -> None:
    info = make_cluster().status()

    assert info.status == ABSENT
    assert info.endpoint is None
    assert "not found" in info.summary()


def test_status_reports_host_port_endpoint_and_ingress(aws: None) -> None:
    cluster = make_cluster()
    cluster.up("192.0.2.0/24")

    info = cluster.status()
    assert info.endpoint.endswith(":5439")
    assert info.ingress == ("192.0.2.0/24",)
    assert info.role_arn.endswith(f":role/{ROLE}")


def test_password_never_leaks(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    # DEBUG on every logger, botocore's wire log included.
    caplog.set_level(logging.DEBUG)
    cluster = make_cluster()

    info = cluster.up("203.0.113.7/32")
    cluster.pause()
    cluster.resume()
    cluster.down()

    assert PASSWORD not in repr(cluster) and PASSWORD not in str(cluster)
    assert PASSWORD not in repr(info) and PASSWORD not in info.summary()
    assert PASSWORD not in json.dumps(info.as_metadata())
    assert "CreateCluster" in caplog.text, "the wire log was captured"
    assert PASSWORD not in caplog.text


def test_missing_password_only_blocks_creation(aws: None) -> None:
    cluster = make_cluster(master_password="")

    assert cluster.status().status == ABSENT
    with pytest.raises(ClusterError, match="no master password"):
        cluster.up()


def test_quota_error_becomes_one_line_cluster_error(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_api_call = botocore.client.BaseClient._make_api_call

    def quota_exceeded(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "CreateCluster":
            error = {"Code": "ClusterQuotaExceeded", "Message": f"quota\nreached {PASSWORD}"}
            raise ClientError({"Error": error}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", quota_exceeded)

    with pytest.raises(ClusterError) as raised:
        make_cluster().up()
    message = str(raised.value)
    assert "\n" not in message and PASSWORD not in message
    assert "Redshift cluster 'sparkify'" in message and "quota" in message


@set_initial_no_auth_action_count(0)
def test_invalid_credentials_become_cluster_error_naming_the_role() -> None:
    with fresh_mock_aws(), pytest.raises(ClusterError) as raised:
        make_cluster().up()

    assert str(raised.value).startswith(f"cannot set up IAM role '{ROLE}'")
    assert "rejected the credentials" in str(raised.value)
    assert str(raised.value).endswith("(InvalidClientTokenId)")


def test_from_env_reads_settings_and_splits_s3_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKIFY_CLUSTER_ID", "sparkify-dev")
    monkeypatch.setenv("SPARKIFY_CLUSTER_NODES", "2")
    monkeypatch.setenv("REDSHIFT_PASSWORD", PASSWORD)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SPARKIFY_DATA_URI", "s3://udacity-dend/sparkify/")

    cluster = RedshiftCluster.from_env()

    assert (cluster.cluster_id, cluster.node_count) == ("sparkify-dev", 2)
    assert cluster.region == "eu-west-1"
    assert (cluster.data_bucket, cluster.data_prefix) == ("udacity-dend", "sparkify/")
    assert (cluster.role_name, cluster.database, cluster.master_user) == (
        ROLE,
        "sparkify",
        "sparkify_admin",
    )
    assert cluster.master_password == PASSWORD and PASSWORD not in repr(cluster)


def test_from_env_without_s3_uri_has_no_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKIFY_DATA_URI", "/tmp/sparkify-sample")

    assert RedshiftCluster.from_env().data_bucket is None


@pytest.mark.parametrize("nodes", ["0", "two"])
def test_from_env_rejects_a_bad_node_count(monkeypatch: pytest.MonkeyPatch, nodes: str) -> None:
    monkeypatch.setenv("SPARKIFY_CLUSTER_NODES", nodes)

    with pytest.raises(SettingsError, match="SPARKIFY_CLUSTER_NODES must be"):
        RedshiftCluster.from_env()


def test_up_job_runs_in_process(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    op_config = {"bring_up_redshift_cluster": {"config": {"ingress_cidr": "10.1.0.0/16"}}}
    redshift = RedshiftResource(
        auth="password", password=PASSWORD, data_uri=f"s3://{BUCKET}/{PREFIX}"
    )
    result = redshift_cluster_up.execute_in_process(
        resources={"redshift": redshift}, run_config={"ops": op_config}
    )

    assert result.success
    info = result.output_for_node("bring_up_redshift_cluster")
    assert info.status == "available" and info.ingress == ("10.1.0.0/16",)
    (output_event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output_event.event_specific_data.metadata
    assert metadata["endpoint"].value == info.endpoint
    assert PASSWORD not in caplog.text
    assert {job.name for job in CLUSTER_JOBS} == {
        "redshift_cluster_up",
        "redshift_cluster_down",
        "redshift_cluster_pause",
        "redshift_cluster_resume",
    }


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # The server builds its IAM backend lazily, after this is set, so managed policies load.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    yield endpoint
    server.stop()


def attached_and_inline_policies() -> tuple[list[str], list[str]]:
    iam = boto3.client("iam")
    attached = iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
    return [p["PolicyArn"] for p in attached], iam.list_role_policies(RoleName=ROLE)["PolicyNames"]


def test_lifecycle_over_http_against_moto_server(moto_server: str) -> None:
    # No mock_aws here: plain boto3 reaches the loopback server through AWS_ENDPOINT_URL.
    cluster = make_cluster(data_bucket=None)

    info = cluster.up("203.0.113.7/32")
    assert info.status == "available" and info.ingress == ("203.0.113.7/32",)
    assert cluster.status().endpoint == info.endpoint
    # Without a data bucket the role falls back to the AWS-managed read-only policy.
    cluster.ensure_role()
    assert attached_and_inline_policies() == ([S3_READ_ONLY_MANAGED_POLICY], [])
    # Configuring a bucket later swaps the broad grant for the scoped inline policy.
    make_cluster().ensure_role()
    assert attached_and_inline_policies() == ([], [S3_READ_POLICY_NAME])

    assert cluster.down().status == ABSENT
    assert cluster.status().status == ABSENT
    assert cluster_ids() == [] and role_names() == []


# ------------------------------------------------------------------- `sparkify cluster` (CLI)


@pytest.fixture
def cluster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an operator exports before `sparkify cluster up`."""
    monkeypatch.setenv("REDSHIFT_PASSWORD", PASSWORD)
    monkeypatch.setenv("SPARKIFY_DATA_URI", f"s3://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def sparkify(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    from sparkify_assets.cli import main as cli

    code = cli.main(list(args))
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    return code, out, err


def test_cli_cluster_lifecycle(aws: None, cluster_env: None, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = sparkify(capsys, "cluster", "up", "--ingress-cidr", "203.0.113.7/32")
    assert code == 0
    state, endpoint = out.splitlines()[0].split()
    host = describe_cluster()["Endpoint"]["Address"]
    assert (state, endpoint) == ("available", f"{host}:{REDSHIFT_PORT}")
    assert f"export REDSHIFT_HOST={host} REDSHIFT_PORT=5439 REDSHIFT_IAM_ROLE_ARN=arn:" in out
    assert redshift_port_rules() == [{"cidr": "203.0.113.7/32", "protocol": "tcp", "port": 5439}]

    assert sparkify(capsys, "cluster", "status")[1].splitlines()[0] == f"available {endpoint}"
    assert sparkify(capsys, "cluster", "pause")[1].startswith("paused ")
    assert sparkify(capsys, "cluster", "status")[1].startswith("paused ")
    assert sparkify(capsys, "cluster", "resume")[1].startswith("available ")

    code, out, _ = sparkify(capsys, "cluster", "down")
    assert (code, out.splitlines()[0]) == (0, "absent -")
    assert cluster_ids() == [] and role_names() == []


def test_cli_cluster_up_without_cidr_opens_nothing(
    aws: None, cluster_env: None, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = sparkify(capsys, "cluster", "up")

    assert code == 0 and redshift_port_rules() == []
    assert "tcp/5439 closed: no ingress CIDR opened" in out
    assert "No ingress CIDR given: opened nothing on tcp/5439" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cluster", "pause"), "cannot pause Redshift cluster 'sparkify': it does not exist"),
        (("cluster", "up", "--ingress-cidr", "0.0.0.0/0"), "refusing to open tcp/5439 to the"),
        (("cluster", "up", "--ingress-cidr", "10.0.0.1/33"), "invalid ingress CIDR"),
    ],
)
def test_cli_cluster_errors_are_one_line_with_exit_2(
    aws: None, cluster_env: None, capsys: pytest.CaptureFixture, args: tuple, message: str
) -> None:
    code, out, err = sparkify(capsys, *args)

    assert (code, out) == (2, "")
    assert err.startswith(f"sparkify: {message}") and err.count("\n") == 1
    assert cluster_ids() == []

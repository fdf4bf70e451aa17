"""The one Redshift resource against moto: a paused cluster resumed by a run's connection step,
paused again by the idle sensor (time compressed), and IAM credentials per run, renewed.

The run is a real Dagster run (``execute_in_process``) whose step asks the ``warehouse``
resource for a connection; psycopg2 is replaced by ``aws_fakes.FakeConnections``, which records
the login each connection used (there is no Redshift here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg2
import pytest
from botocore.stub import Stubber
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from dagster._core.test_utils import create_run_for_test

from sparkify_assets.defs import redshift as redshift_defs
from sparkify_assets.defs.cluster_jobs import idle_pause_sensor, redshift_cluster_pause
from sparkify_assets.defs.redshift import RedshiftResource
from sparkify_assets.defs.resources import RedshiftWarehouseResource
from sparkify_assets.ops.aws_clients import AwsClients
from sparkify_assets.ops.aws_errors import ClusterError

from .aws_fakes import (
    DATA,
    JSONPATHS,
    ROLE_ARN,
    FakeClock,
    FakeConnections,
    connecting_job,
    moto_aws,
    requests_recorded,
    safe_aws_environment,
)

LOADER = "sparkify_loader"


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    safe_aws_environment(monkeypatch, tmp_path)
    monkeypatch.setattr(redshift_defs, "POLL_SECONDS", 0)  # moto changes state at once
    with moto_aws():
        yield


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> FakeConnections:
    fake = FakeConnections()
    monkeypatch.setattr(psycopg2, "connect", fake)
    return fake


def make_resource(**overrides) -> RedshiftResource:
    config = dict(
        cluster_identifier="sparkify",
        database="sparkify",
        user=LOADER,
        region="us-east-1",
        iam_role_arn=ROLE_ARN,
        log_jsonpath=JSONPATHS,
        data_uri=DATA,
        auth="iam",
        auto_create_user=True,
        db_groups=["loaders"],
        pause_after_idle_minutes=30,
    )
    return RedshiftResource(**{**config, **overrides})


def run_connecting_job(resource: RedshiftResource, instance: DagsterInstance):
    return connecting_job.execute_in_process(
        instance=instance,
        resources={"warehouse": RedshiftWarehouseResource(redshift=resource), "redshift": resource},
    )


def lifecycle_records(instance: DagsterInstance) -> list[dict]:
    """The metadata of every resume and pause recorded for ``redshift_cluster``, oldest first."""
    records = instance.fetch_observations(AssetKey("redshift_cluster"), limit=100, ascending=True)
    return [
        {key: value.value for key, value in record.asset_observation.metadata.items()}
        for record in records.records
    ]


def cluster_status() -> str:
    return AwsClients("us-east-1").redshift.describe_clusters(ClusterIdentifier="sparkify")[
        "Clusters"
    ][0]["ClusterStatus"]


def test_a_run_resumes_the_paused_cluster_and_the_idle_sensor_pauses_it_again(
    connections: FakeConnections,
) -> None:
    resource = make_resource()
    instance = DagsterInstance.ephemeral()
    # Brought up (IAM auth: AWS keeps the master password), then paused.
    assert resource.up().status == "available"
    assert resource.pause().status == "paused" == cluster_status()

    with requests_recorded("GetClusterCredentials", "ResumeCluster") as requests:
        result = run_connecting_job(resource, instance)

    assert result.success
    assert cluster_status() == "available"
    assert len(requests.of("ResumeCluster")) == 1
    # Temporary credentials for the expected cluster, database and user.
    (asked,) = requests.of("GetClusterCredentials")
    assert (asked["ClusterIdentifier"], asked["DbName"], asked["DbUser"]) == (
        "sparkify",
        "sparkify",
        LOADER,
    )
    assert (asked["AutoCreate"], asked["DbGroups"]) == (True, ["loaders"])
    (opened,) = connections.opened
    host = AwsClients("us-east-1").redshift.describe_clusters()["Clusters"][0]["Endpoint"]
    assert (opened["host"], opened["port"]) == (host["Address"], 5439)
    assert opened["user"] == f"IAMA:{LOADER}"  # moto's answer for an auto-created user
    assert len(opened["password"]) == 32 and opened["sslmode"] == "require"
    (resumed,) = lifecycle_records(instance)
    assert (resumed["event"], resumed["status"]) == ("resumed", "available")
    assert resumed["paused_hours"] >= 0
    # The run's log says what it waited for.
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("is paused: resuming it" in message for message in messages)

    clock = FakeClock()
    sensor = idle_pause_sensor(clock=clock)
    context = build_sensor_context(instance=instance, resources={"redshift": resource})
    idle = sensor(context)
    assert isinstance(idle, SkipReason) and "idle 0 of 30 minutes" in idle.skip_message

    # A run in progress keeps the cluster up, however long it has been idle.
    clock.advance(minutes=31)
    busy = create_run_for_test(instance, job_name="load_day", status=DagsterRunStatus.STARTED)
    skipped = sensor(build_sensor_context(instance=instance, resources={"redshift": resource}))
    assert isinstance(skipped, SkipReason) and busy.run_id in skipped.skip_message
    paused = redshift_cluster_pause.execute_in_process(
        instance=instance,
        resources={"redshift": resource},
        run_config={"ops": {"pause_redshift_cluster": {"config": {"only_if_idle": True}}}},
    )
    assert paused.success and cluster_status() == "available", "the pause op checks again"
    instance.report_run_canceled(busy)

    request = sensor(build_sensor_context(instance=instance, resources={"redshift": resource}))
    assert isinstance(request, RunRequest)
    assert request.run_key.startswith("idle-pause-")
    paused = redshift_cluster_pause.execute_in_process(
        instance=instance, resources={"redshift": resource}, run_config=request.run_config
    )
    assert paused.success and cluster_status() == "paused"
    pause = lifecycle_records(instance)[-1]
    assert (pause["event"], pause["status"]) == ("paused", "paused")
    assert pause["ran_hours"] >= 0
    metadata = paused.output_for_node("pause_redshift_cluster").as_metadata()
    assert metadata["status"] == "paused" and "ran_hours" in metadata


def test_credentials_are_renewed_before_they_expire(connections: FakeConnections) -> None:
    resource = make_resource(credential_minutes=15)
    resource.up()
    clock = FakeClock()
    warehouse = resource.warehouse(clock=clock)

    with requests_recorded("GetClusterCredentials") as requests:
        warehouse.query("SELECT 1")
        warehouse.query("SELECT 1")  # still fresh: the same credentials
        clock.advance(minutes=11)  # within five minutes of their expiry: renewed
        warehouse.query("SELECT 1")

    asked = requests.of("GetClusterCredentials")
    assert [params["DurationSeconds"] for params in asked] == [900, 900]
    first, again, renewed = connections.passwords
    assert first == again and renewed != first


def test_a_retry_after_a_lost_connection_gets_fresh_credentials(
    connections: FakeConnections,
) -> None:
    resource = make_resource()
    resource.up()
    warehouse = resource.warehouse()
    with requests_recorded("GetClusterCredentials") as requests:
        warehouse.query("SELECT 1")
        warehouse.reset_connection()  # what a retry after a transient error does
        warehouse.query("SELECT 1")
    assert len(requests.of("GetClusterCredentials")) == 2
    assert len(set(connections.passwords)) == 2


def test_resume_on_demand_can_be_turned_off(connections: FakeConnections) -> None:
    resource = make_resource(resume_on_demand=False)
    resource.up()
    resource.pause()

    with pytest.raises(
        ClusterError, match="cluster .sparkify.: it is paused and resume_on_demand is off"
    ):
        resource.warehouse().query("SELECT 1")
    assert cluster_status() == "paused" and connections.opened == []


def test_a_cluster_that_does_not_exist_is_named_in_one_line(connections: FakeConnections) -> None:
    with pytest.raises(ClusterError) as raised:
        make_resource().warehouse().query("SELECT 1")
    assert str(raised.value) == "cannot connect to Redshift cluster 'sparkify': it does not exist"


def test_without_a_db_user_it_logs_in_as_its_iam_identity() -> None:
    """GetClusterCredentialsWithIAM (moto lacks it: botocore's Stubber checks the request)."""
    aws = AwsClients("us-east-1")
    stubber = Stubber(aws.redshift)
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    stubber.add_response(
        "get_cluster_credentials_with_iam",
        {"DbUser": "IAMR:sparkify-loader", "DbPassword": "temporary-Pa55", "Expiration": expires},
        {"DbName": "sparkify", "ClusterIdentifier": "sparkify", "DurationSeconds": 3600},
    )
    with stubber:
        credentials = make_resource(user="").credentials(aws)
    stubber.assert_no_pending_responses()
    assert (credentials.user, credentials.expires_at) == (
        "IAMR:sparkify-loader",
        expires.timestamp(),
    )
    assert "temporary-Pa55" not in repr(credentials)


def test_up_in_iam_mode_needs_no_password_and_the_policy_is_least_privilege() -> None:
    resource = make_resource()
    with requests_recorded("CreateCluster") as requests:
        resource.up()
    (created,) = requests.of("CreateCluster")
    assert created["ManageMasterPassword"] is True and "MasterUserPassword" not in created

    policy = resource.loading_policy()
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}
    cluster = "arn:aws:redshift:us-east-1:123456789012:cluster:sparkify"
    assert statements["LookUpResumeAndPauseTheCluster"]["Resource"] == [cluster]
    assert statements["TemporaryDatabaseCredentials"] == {
        "Sid": "TemporaryDatabaseCredentials",
        "Effect": "Allow",
        "Action": ["redshift:GetClusterCredentials"],
        "Resource": [
            f"arn:aws:redshift:us-east-1:123456789012:dbuser:sparkify/{LOADER}",
            "arn:aws:redshift:us-east-1:123456789012:dbname:sparkify/sparkify",
        ],
    }
    assert statements["CreateTheDatabaseUser"]["Action"] == ["redshift:CreateClusterUser"]
    assert statements["JoinTheDatabaseGroups"]["Resource"] == [
        "arn:aws:redshift:us-east-1:123456789012:dbgroup:sparkify/loaders"
    ]
    every = [resource for s in policy["Statement"] for resource in s["Resource"]]
    assert all("*" not in arn for arn in every), "no wildcard resource"


def test_cli_cluster_up_in_iam_mode_prints_the_loading_policy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from sparkify_assets.cli import main as cli

    for name in ("REDSHIFT_PASSWORD", "REDSHIFT_AUTH", "REDSHIFT_USER", "SPARKIFY_CLUSTER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("SPARKIFY_DATA_URI", DATA)

    assert cli.main(["cluster", "up"]) == 0
    out = capsys.readouterr().out
    state, endpoint = out.splitlines()[0].split()
    assert state == "available" and endpoint.endswith(":5439")
    assert "SPARKIFY_CLUSTER_ID=sparkify" in out
    policy = json.loads(out[out.index("{") :])
    actions = [action for statement in policy["Statement"] for action in statement["Action"]]
    assert "redshift:GetClusterCredentialsWithIAM" in actions  # no REDSHIFT_USER: as itself
    assert "redshift:GetClusterCredentials" not in actions

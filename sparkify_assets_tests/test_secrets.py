"""Passwords and AWS keys never show: not in output, logs, Dagster's event log, or error text.

The session server trusts local connections, so the password test adds a real password rule for
one role to pg_hba.conf (scram-sha-256), reloads, and loads through `sparkify load` with a DSN
that carries the password. Then every byte the run left behind is searched for the secrets.
"""

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance, serialize_value

from sparkify_assets.core.redact import MASK, environment_secrets, redact
from sparkify_assets.warehouse.base import TransientWarehouseError, WarehouseError
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .conftest import run_as_admin


@pytest.fixture
def password_role(database_url, database_role):
    """(role, password, DSN with the password) for a role that must give its password."""
    role, password = f"secretive_{os.getpid()}", "pw-" + secrets.token_urlsafe(18)
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW hba_file")
        (hba_file,) = cursor.fetchone()
    connection.close()
    hba = Path(hba_file)
    original = hba.read_text()
    # First match wins: this line must come before the trust rule for local connections.
    hba.write_text(f"local all {role} scram-sha-256\n{original}")
    run_as_admin(database_url, "SELECT pg_reload_conf()")
    try:
        yield role, password, database_role(role, password)
    finally:
        hba.write_text(original)
        run_as_admin(database_url, "SELECT pg_reload_conf()")


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _files_containing(folder: Path, needles: list[str]) -> list[str]:
    return [
        f"{path}: {needle}"
        for path in folder.rglob("*")
        if path.is_file()
        for needle in needles
        if needle.encode() in path.read_bytes()
    ]


def _event_log_text(dagster_home: Path) -> str:
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        assert runs, "the load left no run in DAGSTER_HOME"
        return "\n".join(
            serialize_value(run)
            + "".join(serialize_value(entry) for entry in instance.all_logs(run.run_id))
            for run in runs
        )


@pytest.fixture
def aws_keys() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
    }


@pytest.mark.slow
def test_a_load_with_a_password_and_aws_keys_shows_neither(
    password_role, aws_keys, small_data, tmp_path, warehouse
):
    role, password, url = password_role
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = {
        **os.environ,
        **aws_keys,
        "SPARKIFY_WAREHOUSE_URL": url,
        "SPARKIFY_DATA_URI": str(small_data),
        "DAGSTER_HOME": str(dagster_home),
    }
    completed = _cli(["load", "--verbose"], env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    # The load really authenticated as the role with its password: the role owns the tables.
    assert warehouse.query("SELECT tableowner FROM pg_tables WHERE tablename = 'songplays'") == [
        (role,)
    ]

    hidden = [password, *aws_keys.values()]
    output = completed.stdout + completed.stderr
    assert " - INFO - " in output  # --verbose printed the event log (INFO and up)
    assert [s for s in hidden if s in output] == []
    assert [s for s in hidden if s in _event_log_text(dagster_home)] == []
    assert _files_containing(dagster_home, hidden) == []


def test_a_wrong_password_fails_at_once_without_showing_it(password_role, bundled_sample, tmp_path):
    role, password, url = password_role
    wrong = "wrong-" + secrets.token_urlsafe(12)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = {
        **os.environ,
        "SPARKIFY_WAREHOUSE_URL": url.replace(password, wrong),
        "SPARKIFY_DATA_URI": str(bundled_sample),
        "DAGSTER_HOME": str(dagster_home),
    }
    completed = _cli(["load"], env)

    assert completed.returncode == 2
    last_line = completed.stderr.strip().splitlines()[-1]
    assert last_line.startswith("sparkify: cannot connect to SPARKIFY_WAREHOUSE_URL: ")
    assert f'password authentication failed for user "{role}"' in last_line
    assert "trying again" not in completed.stderr + completed.stdout  # permanent: no retries
    # Refused by the check before the load: no run was started, so none was recorded.
    assert last_line.endswith("(checked before loading; nothing was run)")
    for secret in (wrong, password):
        assert secret not in completed.stdout + completed.stderr
        assert _files_containing(dagster_home, [secret]) == []


def test_a_malformed_url_that_libpq_would_echo_is_redacted(password_role, bundled_sample):
    role, password, url = password_role
    broken = url.replace("postgresql://", "postgresql//", 1)  # libpq quotes it in its error
    with pytest.raises(WarehouseError) as raised:
        PostgresWarehouse(url=broken).query("SELECT 1")
    assert not isinstance(raised.value, TransientWarehouseError)
    assert "invalid dsn" in str(raised.value) and password not in str(raised.value)

    env = {**os.environ, "SPARKIFY_WAREHOUSE_URL": broken, "SPARKIFY_DATA_URI": str(bundled_sample)}
    completed = _cli(["load"], env)
    assert completed.returncode == 2 and "invalid dsn" in completed.stderr
    assert password not in completed.stdout + completed.stderr


def test_an_unreachable_server_is_retried_then_named_without_the_password(tmp_path):
    password = "pw-" + secrets.token_urlsafe(12)
    url = f"postgresql://someone:{password}@/sparkify?host={tmp_path / 'no-server'}"
    started = time.monotonic()
    with pytest.raises(TransientWarehouseError) as raised:
        PostgresWarehouse(url=url).query("SELECT 1")
    message = str(raised.value)
    assert message.startswith("cannot connect to SPARKIFY_WAREHOUSE_URL: ")
    assert "No such file or directory" in message and "after 4 attempts" in message
    assert password not in message
    assert time.monotonic() - started < 30


def test_redact_masks_url_passwords_key_values_and_environment_secrets():
    env = {
        "SPARKIFY_WAREHOUSE_URL": "postgresql://u:p%40ss-word@db.example/x",
        "REDSHIFT_PASSWORD": "hunter2-hunter2",
        "AWS_SECRET_ACCESS_KEY": "abc/def+ghi",
        "SPARKIFY_HOME": "/home/me/.sparkify",
        "DEBUG": "1",
    }
    found = environment_secrets(env)
    assert set(found) == {"p%40ss-word", "p@ss-word", "hunter2-hunter2", "abc/def+ghi"}
    text = (
        'invalid dsn: "postgresql://u:p%40ss-word@db.example/x" password=hunter2-hunter2 '
        "key abc/def+ghi, user p@ss-word at /home/me/.sparkify"
    )
    assert redact(text, found) == (
        f'invalid dsn: "postgresql://u:{MASK}@db.example/x" password={MASK} '
        f"key {MASK}, user {MASK} at /home/me/.sparkify"
    )
    assert redact("redshift://admin:s3cret@cluster:5439/dev", []) == (
        f"redshift://admin:{MASK}@cluster:5439/dev"
    )


@pytest.mark.parametrize("target", ["redshift", "postgres"])
def test_sparkify_sql_prints_every_statement_and_no_secret(target, aws_keys, bundled_sample):
    hidden = {"REDSHIFT_PASSWORD": "rs-" + secrets.token_urlsafe(12), **aws_keys}
    dsn_password = "pw-" + secrets.token_urlsafe(12)
    env = {
        **os.environ,
        **hidden,
        "SPARKIFY_WAREHOUSE_URL": f"postgresql://someone:{dsn_password}@localhost/sparkify",
        "REDSHIFT_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/sparkify-s3-read",
        "AWS_REGION": "us-west-2",
        "SPARKIFY_LOG_JSONPATH": "s3://config/log_json_path.json",
        "SPARKIFY_DATA_URI": "s3://udacity-dend" if target == "redshift" else str(bundled_sample),
    }
    completed = _cli(["sql", "--target", target, "--day", "2018-11-01"], env)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "COPY" in completed.stdout and "COMMIT;" in completed.stdout
    output = completed.stdout + completed.stderr
    assert [s for s in [*hidden.values(), dsn_password] if s in output] == []


# --- Redshift with IAM auth: temporary passwords never show -------------------------------------


def test_temporary_redshift_credentials_show_nowhere(monkeypatch, tmp_path, caplog, capsys):
    """A run that resumes the cluster and logs in with GetClusterCredentials, against moto:
    the temporary password reaches psycopg2 and nothing else (DEBUG logs, botocore's wire log
    included; the event log; the lifecycle metadata; reprs; printed SQL; the CLI)."""
    import logging

    from dagster import AssetKey

    from sparkify_assets.cli import main as cli
    from sparkify_assets.defs import redshift as redshift_defs
    from sparkify_assets.defs.redshift import RedshiftResource
    from sparkify_assets.defs.resources import RedshiftWarehouseResource

    from .aws_fakes import (
        DATA,
        JSONPATHS,
        ROLE_ARN,
        FakeConnections,
        connecting_job,
        moto_aws,
        safe_aws_environment,
    )

    safe_aws_environment(monkeypatch, tmp_path)
    monkeypatch.setattr(redshift_defs, "POLL_SECONDS", 0)
    connections = FakeConnections()
    monkeypatch.setattr(psycopg2, "connect", connections)
    caplog.set_level(logging.DEBUG)
    env = {
        "SPARKIFY_DEPLOYMENT": "redshift",
        "REDSHIFT_AUTH": "iam",
        "REDSHIFT_USER": "sparkify_loader",
        "AWS_REGION": "us-east-1",
        "REDSHIFT_IAM_ROLE_ARN": ROLE_ARN,
        "SPARKIFY_LOG_JSONPATH": JSONPATHS,
        "SPARKIFY_DATA_URI": DATA,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDSHIFT_PASSWORD", raising=False)
    resource = RedshiftResource(
        user="sparkify_loader",
        region="us-east-1",
        iam_role_arn=ROLE_ARN,
        log_jsonpath=JSONPATHS,
        data_uri=DATA,
        auth="iam",
    )
    instance = DagsterInstance.ephemeral()
    with moto_aws():
        resource.up()
        resource.pause()
        result = connecting_job.execute_in_process(
            instance=instance,
            resources={"warehouse": RedshiftWarehouseResource(redshift=resource)},
        )
        warehouse = resource.warehouse()
        warehouse.query("SELECT 1")
        assert cli.main(["cluster", "status"]) == 0
        assert cli.main(["sql", "--target", "redshift", "--day", "2018-11-01"]) == 0
    printed = capsys.readouterr()

    assert result.success
    passwords = connections.passwords
    assert len(passwords) == 2 and all(len(password) == 32 for password in passwords)
    observations = instance.fetch_observations(AssetKey("redshift_cluster"), limit=10)
    assert [r.asset_observation.metadata["event"].value for r in observations.records] == [
        "resumed"
    ]
    event_log = serialize_value(result.dagster_run) + "".join(
        serialize_value(entry) for entry in instance.all_logs(result.run_id)
    )
    assert "ResumeCluster" in caplog.text, "botocore's DEBUG wire log was captured"
    assert "COPY" in printed.out
    shown = [
        caplog.text,
        event_log,
        printed.out + printed.err,
        repr(warehouse) + repr(warehouse.login_source) + repr(resource),
    ]
    assert [(i, p) for i, text in enumerate(shown) for p in passwords if p in text] == []

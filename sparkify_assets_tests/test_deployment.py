"""SPARKIFY_DEPLOYMENT picks the resources when the code location loads (in a fresh process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparkify_assets.definitions import defs as load_defs
from sparkify_assets.defs.cluster_jobs import CLUSTER_JOBS

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Juniper-Sextant-5521"
REDSHIFT_ENV = {
    "SPARKIFY_DEPLOYMENT": "redshift",
    "SPARKIFY_DATA_URI": "s3://sparkify-data/raw",
    "REDSHIFT_HOST": "sparkify.abc123.us-west-2.redshift.amazonaws.com",
    "REDSHIFT_USER": "sparkify_admin",
    "REDSHIFT_PASSWORD": PASSWORD,
    "REDSHIFT_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read",
    "AWS_REGION": "us-west-2",
    "SPARKIFY_LOG_JSONPATH": "s3://sparkify-config/log_json_path.json",
}
# Loads the code location as `dagster dev` would, and reports what it holds. Nothing connects.
PROBE = """
import json
from sparkify_assets.definitions import defs
from sparkify_assets.defs.resources import plain_warehouse
defs = defs()
resource = defs.resources["warehouse"]
warehouse = plain_warehouse(resource)
job_names = [job.name for job in defs.resolve_all_job_defs()]
print(json.dumps({
    "warehouse": type(warehouse).__name__,
    "dialect": warehouse.dialect.name,
    "host": warehouse.host,
    "port": warehouse.port,
    "database": warehouse.database,
    "password_variable": defs.resources["redshift"].password.env_var_name,
    "source": defs.resources["source"].uri,
    "redshift": type(defs.resources["redshift"]).__name__,
    "same_redshift": resource.redshift is defs.resources["redshift"],
    "jobs": job_names,
    "repr": repr(warehouse) + repr(resource) + repr(defs.resources["redshift"]),
}))
"""


def load_definitions(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SPARKIFY_", "REDSHIFT_", "AWS_"))
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "PYTHONPATH": str(REPO), **env},
    )


def test_redshift_deployment_loads_a_redshift_warehouse() -> None:
    loaded = load_definitions(REDSHIFT_ENV)

    assert loaded.returncode == 0, loaded.stderr
    report = json.loads(loaded.stdout.splitlines()[-1])
    assert (report["warehouse"], report["dialect"]) == ("RedshiftWarehouse", "redshift")
    assert (report["port"], report["database"]) == (5439, "sparkify")
    assert report["host"] == REDSHIFT_ENV["REDSHIFT_HOST"]
    # The password stays an EnvVar that Dagster resolves at run time.
    assert report["password_variable"] == "REDSHIFT_PASSWORD"
    assert report["source"] == "s3://sparkify-data/raw"
    # One Redshift resource: the assets' warehouse is its connection, the cluster jobs use it.
    assert (report["redshift"], report["same_redshift"]) == ("RedshiftResource", True)
    assert {job.name for job in CLUSTER_JOBS} <= set(report["jobs"])
    assert PASSWORD not in loaded.stdout + loaded.stderr


def test_redshift_deployment_without_its_variables_names_them_when_a_run_needs_them() -> None:
    env = {k: v for k, v in REDSHIFT_ENV.items() if k not in ("REDSHIFT_HOST", "AWS_REGION")}
    only_the_location = PROBE.split("warehouse = plain_warehouse")[0] + "print('loaded')"

    location = subprocess.run(
        [sys.executable, "-c", only_the_location],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SPARKIFY_", "REDSHIFT_", "AWS_"))
            },
            "PYTHONPATH": str(REPO),
            **env,
        },
    )
    loaded = load_definitions(env)

    assert location.returncode == 0, location.stderr  # the UI can show the code location
    assert loaded.returncode != 0
    last_line = loaded.stderr.strip().splitlines()[-1]
    assert "SettingsError: the Redshift deployment needs AWS_REGION, REDSHIFT_HOST" in last_line


def test_local_deployment_also_offers_the_cluster_jobs() -> None:
    defs = load_defs()
    assert type(defs.resources["warehouse"]).__name__ == "PostgresWarehouseResource"
    assert type(defs.resources["redshift"]).__name__ == "RedshiftResource"
    for job in CLUSTER_JOBS:
        assert defs.resolve_job_def(job.name).name == job.name


@pytest.mark.parametrize("deployment", ["postgres", "Redshift"])
def test_unknown_deployment_is_refused(deployment: str) -> None:
    loaded = load_definitions({"SPARKIFY_DEPLOYMENT": deployment})

    assert loaded.returncode != 0
    assert "SPARKIFY_DEPLOYMENT must be 'local' or 'redshift'" in loaded.stderr

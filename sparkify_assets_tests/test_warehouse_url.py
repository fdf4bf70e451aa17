"""SPARKIFY_WAREHOUSE_URL: any PostgreSQL, passed as an EnvVar and resolved at use."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_sparkify_load_builds_in_the_server_named_by_the_url(database_url, warehouse, tmp_path):
    env = {
        **os.environ,
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "SPARKIFY_HOME": str(tmp_path / "unused-home"),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "load"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "load succeeded" in completed.stdout
    (events,) = warehouse.query("SELECT COUNT(*) FROM staging_events")[0]
    assert (
        events > 0
        and f"staging_events {events:>10,}".split()
        == [
            line
            for line in completed.stdout.splitlines()
            if line.strip().startswith("staging_events")
        ][0].split()
    )
    # The embedded server was never needed.
    assert not (tmp_path / "unused-home").exists()

"""The suite tests the same code whatever the caller exported: conftest clears SPARKIFY_*,
REDSHIFT_* and DAGSTER_HOME before anything of the package is imported."""

import os
import subprocess
import sys

from .conftest import REPO


def test_a_callers_settings_change_nothing_the_suite_tests():
    exported = {
        "SPARKIFY_DEPLOYMENT": "bogus",
        "SPARKIFY_DATA_URI": "s3://somebody-elses-bucket/data",
        "SPARKIFY_FIRST_DAY": "not-a-day",
        "REDSHIFT_HOST": "production.example",
    }
    # The code location snapshot reads the deployment, the source and the first day.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "sparkify_assets_tests/test_code_location.py",
        ],
        cwd=REPO,
        env={**os.environ, **exported},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed" in run.stdout

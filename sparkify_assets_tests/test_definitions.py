"""The code location loads, and `dagster` finds it the ways README says."""

import subprocess
import sys

from sparkify_assets.definitions import defs as load_defs

from .location_snapshot import code_location, reviewed, sorted_deeply


def test_the_code_location_dagster_loads_is_the_reviewed_one():
    # test_code_location checks the snapshot with the tests' resources; this is the real one.
    assert sorted_deeply(code_location(load_defs())) == reviewed()


def test_dagster_cli_finds_the_definitions():
    listed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "list", "-m", "sparkify_assets.definitions"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(reviewed()["assets"]) <= set(listed)


def test_importing_the_package_builds_nothing_and_needs_no_settings():
    probe = (
        "import sys, sparkify_assets, sparkify_assets.definitions\n"
        "print('sparkify_assets.defs.location' in sys.modules)"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"SPARKIFY_DEPLOYMENT": "bogus", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "False"


def test_the_record_contract_does_not_pull_in_dagster():
    probe = "import sys, sparkify_assets.contract.records\nprint('dagster' in sys.modules)"
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert imported.stdout.strip() == "False", imported.stderr


def test_help_works_whatever_the_deployment_settings():
    for deployment in ("redshift", "bogus"):
        shown = subprocess.run(
            [sys.executable, "-m", "sparkify_assets.cli", "--help"],
            capture_output=True,
            text=True,
            env={"SPARKIFY_DEPLOYMENT": deployment, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert "usage: sparkify" in shown.stdout

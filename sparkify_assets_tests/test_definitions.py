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


COUNT_LISTINGS = """
import importlib, pkgutil
import sparkify_assets.defs
from sparkify_assets.ingest.local import LocalSource

listings = []
event_files = LocalSource.event_files
LocalSource.event_files = lambda source: listings.append(1) or event_files(source)
for module in pkgutil.walk_packages(sparkify_assets.defs.__path__, "sparkify_assets.defs."):
    importlib.import_module(module.name)
print(len(listings))
from sparkify_assets.definitions import defs
defs()
print(len(listings))
"""


def test_importing_defs_lists_nothing_and_loading_the_location_lists_the_source_once():
    counted = subprocess.run(
        [sys.executable, "-c", COUNT_LISTINGS], capture_output=True, text=True, timeout=120
    )
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.split() == ["0", "1"]  # every defs module imported; then the location

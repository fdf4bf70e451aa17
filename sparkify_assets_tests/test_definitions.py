"""The code location loads, and `dagster` finds it the ways README says."""

import subprocess
import sys

from dagster import AssetKey

from sparkify_assets.definitions import defs as load_defs

defs = load_defs()

STAGING_AND_STAR = {
    "staging_events",
    "staging_songs",
    "songplays",
    "users",
    "songs",
    "artists",
    "time",
}


def test_definitions_hold_the_seven_tables_with_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert STAGING_AND_STAR <= keys
    parents = {
        name: {p.to_user_string() for p in graph.get(AssetKey(name)).parent_keys}
        for name in STAGING_AND_STAR
    }
    assert parents["songplays"] == {"staging_events", "staging_songs"}
    assert parents["users"] == {"user_latest_by_day"}
    assert parents["songs"] == parents["artists"] == {"staging_songs"}
    assert parents["time"] == {"songplays"}


def test_every_star_table_has_key_checks():
    check_keys = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert {(table, "not_empty"), (table, "primary_key")} <= check_keys


def test_dagster_cli_finds_the_definitions():
    listed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "list", "-m", "sparkify_assets.definitions"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert STAGING_AND_STAR <= set(listed)


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

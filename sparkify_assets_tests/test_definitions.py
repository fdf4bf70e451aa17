"""The code location loads, and `dagster` finds it the ways README says."""

import subprocess
import sys

from dagster import AssetKey

from sparkify_assets import defs

STAGING_AND_STAR = {"staging_events", "staging_songs", "songplays", "users", "songs", "artists",
                    "time"}


def test_definitions_hold_the_seven_tables_with_lineage():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert STAGING_AND_STAR <= keys
    parents = {
        name: {p.to_user_string() for p in graph.get(AssetKey(name)).parent_keys}
        for name in STAGING_AND_STAR
    }
    assert parents["songplays"] == {"staging_events", "staging_songs"}
    assert parents["users"] == {"staging_events"}
    assert parents["songs"] == parents["artists"] == {"staging_songs"}
    assert parents["time"] == {"songplays"}


def test_every_star_table_has_key_checks():
    check_keys = {(k.asset_key.to_user_string(), k.name)
                  for k in defs.resolve_asset_graph().asset_check_keys}
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert {(table, "not_empty"), (table, "primary_key")} <= check_keys


def test_dagster_cli_finds_the_definitions():
    listed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "list", "-m", "sparkify_assets"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert STAGING_AND_STAR <= set(listed)

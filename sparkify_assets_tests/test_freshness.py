"""Freshness: a day's data is due by 03:00 UTC, evaluated by Dagster's own freshness daemon.

The code location is loaded in process like the daemon loads it; time is frozen so "past the
deadline" needs no waiting.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from dagster import AssetKey, AssetMaterialization
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import (
    InProcessTestWorkspaceLoadTarget,
    freeze_time,
    instance_for_test,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._daemon.freshness import FreshnessDaemon

from sparkify_assets.definitions import defs as load_defs

DAILY = ("staging_events", "user_latest_by_day", "songplays", "users", "time", "top_songs")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def daemon_view():
    """An instance and the workspace the freshness daemon evaluates (the real code location)."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="sparkify_assets.definitions", attribute="defs")
    )
    with instance_for_test() as instance:
        with WorkspaceProcessContext(instance, InProcessTestWorkspaceLoadTarget(origin)) as ws:
            yield instance, ws


def materialized(instance, asset: str, when: str, partition: str | None = None) -> None:
    with freeze_time(utc(when)):
        instance.report_runless_asset_event(AssetMaterialization(asset, partition=partition))


def freshness_at(daemon_view, when: str, asset: str) -> FreshnessState:
    instance, workspace = daemon_view
    with freeze_time(utc(when)):
        asyncio.run(FreshnessDaemon()._evaluate_assets(workspace))
    key = AssetKey(asset)
    return instance.get_freshness_state_records([key])[key].freshness_state


def test_every_daily_asset_carries_the_deadline_and_the_song_side_none():
    specs = {spec.key.to_user_string(): spec for spec in load_defs().resolve_all_asset_specs()}
    for name in DAILY:
        policy = specs[name].freshness_policy
        assert policy is not None, name
        assert policy.deadline_cron == "0 3 * * *" and policy.timezone == "UTC"
    for name in ("staging_songs", "songs", "artists"):  # no event can change them
        assert specs[name].freshness_policy is None, name


def test_a_day_built_after_midnight_passes_until_the_next_deadline_then_fails(daemon_view):
    materialized(daemon_view[0], "songplays", "2026-11-21 01:20", partition="2026-11-20")
    assert freshness_at(daemon_view, "2026-11-21 03:30", "songplays") == FreshnessState.PASS
    assert freshness_at(daemon_view, "2026-11-22 02:59", "songplays") == FreshnessState.PASS
    # The 2026-11-21 file never landed: no build since midnight by 03:00 UTC.
    assert freshness_at(daemon_view, "2026-11-22 03:01", "songplays") == FreshnessState.FAIL


def test_a_build_before_midnight_cannot_hold_the_day_that_just_ended(daemon_view):
    materialized(daemon_view[0], "users", "2026-11-20 23:30")
    assert freshness_at(daemon_view, "2026-11-21 03:01", "users") == FreshnessState.FAIL
    materialized(daemon_view[0], "users", "2026-11-21 04:10")  # the late run catches up
    assert freshness_at(daemon_view, "2026-11-21 04:11", "users") == FreshnessState.PASS


def test_song_staging_has_no_deadline(daemon_view):
    materialized(daemon_view[0], "staging_songs", "2026-01-01 12:00")
    assert freshness_at(daemon_view, "2026-11-22 03:01", "staging_songs") == (
        FreshnessState.NOT_APPLICABLE
    )

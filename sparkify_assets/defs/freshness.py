"""When the tables' data is due: one Dagster freshness policy, applied over the asset specs.

A UTC day ends at 00:00; its log file lands within the hour, and the ``load_yesterday`` schedule
loads it at 01:00 (the log sensor may do so as soon as the file appears). A day's load takes
minutes on the embedded server and well under an hour on Redshift, retries included, so a day's
data is **due by 03:00 UTC**: the schedule's run plus two hours of slack for a late file, a slow
cluster or one manual re-run. A build since 00:00 UTC counts (``lower_bound_delta`` of three
hours): nothing built before midnight can hold the day that just ended.

The policy covers everything the daily run builds (``load_day``: staging_events,
user_latest_by_day, songplays, time, users and the analytics). Not ``staging_songs``, ``songs``
or ``artists``: they change only when song files do, which has no calendar, so no window would
be honest for them.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from dagster import (
    AssetSelection,
    Definitions,
    FreshnessPolicy,
    PreviewWarning,
    apply_freshness_policy,
)

DEADLINE_CRON = "0 3 * * *"
DAY_DUE = FreshnessPolicy.cron(
    deadline_cron=DEADLINE_CRON, lower_bound_delta=timedelta(hours=3), timezone="UTC"
)


def with_freshness(defs: Definitions, selection: AssetSelection) -> Definitions:
    """``defs`` with the daily deadline on every asset in ``selection`` (the daily run's)."""
    with warnings.catch_warnings():  # mapping over specs is a preview API, used knowingly
        warnings.simplefilter("ignore", PreviewWarning)
        return defs.map_resolved_asset_specs(
            func=lambda spec: apply_freshness_policy(spec, DAY_DUE), selection=selection
        )

"""The daily partitioning shared by staging_events, songplays, the schedule and the sensor.

The partitions run from SPARKIFY_FIRST_DAY to the last day with data, so the UI's partition
bars, "missing" counts and the partitions tab describe the data rather than every day since
2018. That last day is SPARKIFY_LAST_DAY when set; otherwise, for a folder source, the last day
file in it, and for S3 (a live source, where a new day lands every day) no end at all: the
partitions grow by one each day, up to yesterday, which the daily schedule loads.

Nothing happens at import: ``build_definitions`` calls ``daily_partitions()`` once each time the
code location loads (Dagster's lazy ``@definitions``), lists the folder then, and hands the one
definition to every daily asset; the schedule and the sensors read it back from their job.
"""

from __future__ import annotations

from datetime import date, timedelta

from dagster import DailyPartitionsDefinition

from sparkify_assets.core import settings
from sparkify_assets.ingest.base import SourceError
from sparkify_assets.ingest.open import open_source


def source_last_day(uri: str) -> date | None:
    """The last day file of a folder source; None for S3 or a folder without day files."""
    if uri.startswith("s3://"):
        return None
    try:
        days = open_source(uri).event_files()
    except (SourceError, OSError):
        return None  # the load says what is wrong with the folder; the location still loads
    return max(days, default=None)


def last_day(uri: str | None = None) -> date | None:
    """The last daily partition (see the module docstring); None: open-ended, up to today."""
    return settings.last_day() or source_last_day(uri or settings.data_uri())


def daily_partitions(uri: str | None = None) -> DailyPartitionsDefinition:
    """One partition per UTC day: the date in log_data/YYYY/MM/YYYY-MM-DD-events.json."""
    end, first = last_day(uri), date.fromisoformat(settings.first_day())
    if end and end < first:  # only days before the start: `sparkify load` says what to set
        end = first
    return DailyPartitionsDefinition(
        start_date=settings.first_day(),
        # end_date is exclusive
        end_date=(end + timedelta(days=1)).isoformat() if end else None,
        timezone="UTC",
    )

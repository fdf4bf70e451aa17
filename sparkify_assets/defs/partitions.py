"""The daily partitioning shared by staging_events, songplays, the schedule and the sensor."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from sparkify_assets.core import settings

# One partition per UTC day: the date in log_data/YYYY/MM/YYYY-MM-DD-events.json.
DAILY = DailyPartitionsDefinition(start_date=settings.first_day(), timezone="UTC")

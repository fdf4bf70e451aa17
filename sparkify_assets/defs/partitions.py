"""The daily partitioning shared by staging_events, songplays, the schedule and the sensor."""

from __future__ import annotations

from datetime import date, timedelta

from dagster import DailyPartitionsDefinition

from sparkify_assets.core import settings

# One partition per UTC day: the date in log_data/YYYY/MM/YYYY-MM-DD-events.json.
DAILY = DailyPartitionsDefinition(start_date=settings.first_day(), timezone="UTC")


def days_between(first: str, last: str) -> list[date]:
    """Every day from ``first`` to ``last``, both included (ISO dates)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]

"""Where Sparkify's files live and which UTC day a day file holds.

``log_data/YYYY/MM/YYYY-MM-DD-events.json`` holds the events of one UTC day; ``song_data/``
holds one JSON file per song. Every part of the platform that names a day file or a day's
time bounds asks here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

DAY_FILE = re.compile(r"(\d{4})-(\d{2})-(\d{2})-events\.json$")


def day_of(key: str) -> date | None:
    match = DAY_FILE.search(key)
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None  # e.g. 2018-02-30: not a day file, the listing warns about it


def day_file_key(day: date) -> str:
    """Where the layout puts a day's events: ``log_data/YYYY/MM/YYYY-MM-DD-events.json``."""
    return f"log_data/{day:%Y}/{day:%m}/{day.isoformat()}-events.json"


def day_bounds_ms(day: date) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def days_in(first: date, end: date) -> list[date]:
    """Every day from ``first`` up to, not including, ``end``."""
    return [first + timedelta(days=offset) for offset in range((end - first).days)]

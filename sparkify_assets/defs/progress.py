"""The log line a staging step writes when a day is committed, and how to read it back.

Written with ``context.log.info`` (so it is in the run's event log and the UI), read by
``sparkify load`` for its live progress and for saying, after an interrupt, which days are in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DAY_DONE = re.compile(
    r"^committed (?P<day>\d{4}-\d{2}-\d{2}): (?P<rows>[\d,]+) rows in (?P<seconds>[\d.]+) s"
)


@dataclass(frozen=True)
class DayDone:
    day: str
    rows: int
    seconds: float


def day_done_message(day: str, rows: int, seconds: float) -> str:
    return f"committed {day}: {rows:,} rows in {seconds:.2f} s"


def parse_day_done(message: str) -> DayDone | None:
    found = _DAY_DONE.match(message)
    if found is None:
        return None
    rows = int(found["rows"].replace(",", ""))
    return DayDone(found["day"], rows, float(found["seconds"]))

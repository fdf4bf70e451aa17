"""What ``sparkify load`` says about source drift, read back from load_drift after the run.

One line per drifted file (``contract.shape.describe``), and a closing line per new key: which
staging table, since which day, in how many files. load_drift holds the latest load of every
partition, so the lines are about the data the warehouse holds now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from sparkify_assets.contract.shape import UNKNOWN, KeyChange, describe
from sparkify_assets.sql.drift import report
from sparkify_assets.warehouse.base import Warehouse

SHOWN_FILES = 20  # drifted files listed one per line; the rest are counted


@dataclass
class NewKey:
    asset: str
    key: str
    since: str  # the first day file's day ('' for song files)
    files: int


@dataclass
class DriftReport:
    files: list[str] = field(default_factory=list)  # one line per drifted file
    new_keys: list[NewKey] = field(default_factory=list)

    def file_lines(self) -> list[str]:
        shown = [f"  DRIFT {line}" for line in self.files[:SHOWN_FILES]]
        more = len(self.files) - SHOWN_FILES
        if more > 0:
            shown.append(f"  DRIFT ... and {more} more file(s): see load_drift")
        return shown

    def summary_lines(self) -> list[str]:
        lines = []
        for new in self.new_keys:
            since = f" since {new.since}" if new.since else ""
            plural = "s" if new.files != 1 else ""
            lines.append(
                f"  new key {new.key} in {new.asset}{since} ({new.files} file{plural}): not "
                "loaded until the record contract maps it"
            )
        return lines


def drift_report(warehouse: Warehouse) -> DriftReport:
    rows = warehouse.query(report(warehouse.schema_name))
    result = DriftReport()
    by_file = groupby(rows, key=lambda row: row[:3])
    new: dict[tuple[str, str], NewKey] = {}
    for (asset, partition, source), changes in by_file:
        changes = list(changes)
        file_records = changes[0][7]
        result.files.append(
            describe(source, file_records, [KeyChange(*row[3:7]) for row in changes])
        )
        for row in changes:
            if row[4] != UNKNOWN:
                continue
            seen = new.setdefault((asset, row[3]), NewKey(asset, row[3], partition, 0))
            seen.files += 1
            seen.since = min(seen.since, partition)
    result.new_keys = list(new.values())
    return result

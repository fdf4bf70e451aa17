"""A source file's shape: how its records' keys drifted from the record contract's.

Key drift is what a file's records say about the contract's keys: keys no record was expected
to have, and expected keys that records lack, each with how many records and the first line.
Only lines the fast path did not take can have drifted (it accepts exactly the expected keys),
so counting costs nothing on a clean file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

MISSING = "missing"
UNKNOWN = "unknown"
# Distinct unknown keys kept per file: a file of arbitrary objects must not grow the log without
# bound; past this many, further new keys are counted under MORE_KEYS.
MAX_UNKNOWN_KEYS = 50
MORE_KEYS = "(more keys)"
KEY_CHARACTERS = 60  # of an unknown key's name kept (the column is VARCHAR(256): 4 bytes each)


@dataclass(frozen=True)
class KeyChange:
    """One drifted key of a file: how many records it concerns, and the first line."""

    key: str
    change: str  # MISSING | UNKNOWN
    records: int
    first_line: int


@dataclass
class KeyDrift:
    """A file's drifted keys: key -> [records, first line], for missing and unknown keys."""

    missing: dict[str, list[int]] = field(default_factory=dict)
    unknown: dict[str, list[int]] = field(default_factory=dict)

    def see(self, keys, expected: frozenset[str], line_number: int) -> None:
        """Count a decoded record's keys (``keys`` a dict's keys view) against ``expected``."""
        if keys == expected:
            return
        for key in expected - keys:
            _count(self.missing, key, line_number)
        for key in keys - expected:
            if key not in self.unknown and len(self.unknown) >= MAX_UNKNOWN_KEYS:
                key = MORE_KEYS
            elif len(key) > KEY_CHARACTERS:
                key = key[:KEY_CHARACTERS] + "…"
            _count(self.unknown, key, line_number)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unknown)

    def changes(self) -> list[KeyChange]:
        return [
            KeyChange(key, change, records, first)
            for change, keys in ((MISSING, self.missing), (UNKNOWN, self.unknown))
            for key, (records, first) in sorted(keys.items())
        ]


def _count(keys: dict[str, list[int]], key: str, line_number: int) -> None:
    seen = keys.get(key)
    if seen is None:
        keys[key] = [1, line_number]
    else:
        seen[0] += 1


def describe(source: str, records: int, changes: Iterable[KeyChange]) -> str:
    """One line for a drifted file, e.g. ``…-events.json: no record has userId (533 records);
    every record has an unknown key user_id``."""
    parts = []
    for change in changes:
        every = change.records >= records > 0
        if change.change == MISSING:
            parts.append(
                f"no record has {change.key} ({records} records)"
                if every
                else f"{change.records} of {records} records lack {change.key} "
                f"(first at line {change.first_line})"
            )
        else:
            parts.append(
                f"every record has an unknown key {change.key}"
                if every
                else f"{change.records} of {records} records have an unknown key {change.key} "
                f"(first at line {change.first_line})"
            )
    return f"{source}: {'; '.join(parts)}"


# Bytes read per sampled line: the public sample's lines are 250-450 bytes; a line cut at the
# end of the range is not counted.
SAMPLE_BYTES_PER_LINE = 2048


def sample_drift(
    head: bytes, lines: int, expected: frozenset[str], whole_file: bool
) -> tuple[int, KeyDrift]:
    """(records seen, their key drift) in the first ``lines`` whole lines of a file's ``head``.

    For a reader that only has the start of the file (Redshift's COPY reads the rest); unless
    ``head`` is the ``whole_file``, its last, cut line is not read. Lines that are not JSON
    objects are left to the load, which quarantines them.
    """
    split = head.split(b"\n")
    drift, records = KeyDrift(), 0
    for number, line in enumerate(split[: lines if whole_file else min(lines, len(split) - 1)], 1):
        try:
            record = orjson.loads(line.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError:
            continue
        if type(record) is dict:
            records += 1
            drift.see(record.keys(), expected, number)
    return records, drift

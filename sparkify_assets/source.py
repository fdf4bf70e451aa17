"""Where the raw JSON comes from: a local folder here, ``s3://bucket/prefix`` in ``s3_source``.

A source knows the Sparkify layout: ``log_data/YYYY/MM/YYYY-MM-DD-events.json`` day files and
``song_data/A/B/C/TR*.json`` song files. It hands out file names and byte streams; it knows
nothing about parsing or the warehouse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

DAY_FILE = re.compile(r"(\d{4})-(\d{2})-(\d{2})-events\.json$")


class SourceError(RuntimeError):
    """The source is unreachable or not laid out as expected; the message names the URI."""


class TransientSourceError(SourceError):
    """A failure that may pass (S3 throttling, a reset connection) still there after the
    client's own retries: the asset's RetryPolicy may try the step again later."""

    transient = True


@dataclass(frozen=True, order=True)
class SourceFile:
    key: str  # path relative to the source root, with forward slashes: what rejects record
    size: int = 0
    # Changes whenever the content does: the S3 ETag, or a local file's mtime and size. The
    # sensors compare it between ticks; the loads never look at it.
    fingerprint: str = ""


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


class Source(Protocol):
    uri: str

    def event_files(self) -> dict[date, list[SourceFile]]: ...

    def song_files(self) -> Iterator[SourceFile]: ...

    def lines(self, file: SourceFile) -> Iterator[bytes]: ...

    def read_all(self, files: Iterator[SourceFile]) -> Iterator[tuple[SourceFile, bytes]]: ...


class LocalSource:
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)
        if not self.root.is_dir():
            raise SourceError(f"data folder {self.uri} does not exist (SPARKIFY_DATA_URI)")

    def _walk(self, prefix: str) -> Iterator[SourceFile]:
        folder = self.root / prefix
        if not folder.is_dir():
            raise SourceError(f"{self.uri} has no {prefix}/ folder")
        yield from _json_files(str(folder), prefix)

    def event_files(self) -> dict[date, list[SourceFile]]:
        days: dict[date, list[SourceFile]] = {}
        for file in self._walk("log_data"):
            day = day_of(file.key)
            if day is not None:
                days.setdefault(day, []).append(file)
        return days

    def song_files(self) -> Iterator[SourceFile]:
        yield from self._walk("song_data")

    def _path(self, file: SourceFile) -> str:
        return os.path.join(self.uri, file.key)

    def lines(self, file: SourceFile) -> Iterator[bytes]:
        with open(self._path(file), "rb") as handle:
            yield from handle

    def read_all(self, files: Iterator[SourceFile]) -> Iterator[tuple[SourceFile, bytes]]:
        for file in files:
            with open(self._path(file), "rb") as handle:
                yield file, handle.read()


def _json_files(folder: str, key: str) -> Iterator[SourceFile]:
    """Every ``*.json`` file under ``folder`` in sorted path order, streamed.

    One sorted ``scandir`` per folder gives the order of sorting all paths, without holding every
    name of a large song_data/ tree in memory, and is ten times faster than ``Path.rglob``.
    Symlinked folders are not followed (as with rglob).
    """
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda entry: entry.name)
    for entry in ordered:
        child = f"{key}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            yield from _json_files(entry.path, child)
        elif entry.name.endswith(".json") and entry.is_file():
            stat = entry.stat()
            yield SourceFile(child, stat.st_size, f"{stat.st_mtime_ns:x}-{stat.st_size:x}")


def open_source(uri: str) -> Source:
    if uri.startswith("s3://"):
        from .s3_source import S3Source  # only imported when S3 is the source

        return S3Source.from_uri(uri)
    return LocalSource(uri)

"""The raw JSON in a local folder: ``SPARKIFY_DATA_URI=/path/to/data``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sparkify_assets.contract.layout import day_of
from sparkify_assets.ingest.base import SourceError, SourceFile


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

    def head(self, file: SourceFile, size: int) -> bytes:
        with open(self._path(file), "rb") as handle:
            return handle.read(size)

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

"""What every source of raw JSON hands out: file names, byte streams, and its errors.

A source knows the Sparkify layout (``contract.layout``): day files under ``log_data/`` and song
files under ``song_data/``. It knows nothing about parsing or the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sparkify_assets.core.errors import UserError


class SourceError(UserError):
    """The source is unreachable or not laid out as expected; the message names the URI."""


class TransientSourceError(SourceError):
    """A failure that may pass (S3 throttling, a reset connection) still there after the
    client's own retries: the step may be tried again later (failing_fast)."""

    transient = True


@dataclass(frozen=True, order=True)
class SourceFile:
    key: str  # path relative to the source root, with forward slashes: what rejects record
    size: int = 0
    # Changes whenever the content does: the S3 ETag, or a local file's mtime and size. The
    # sensors compare it between ticks; the loads never look at it.
    fingerprint: str = ""


class Source(Protocol):
    uri: str

    def event_files(self) -> dict[date, list[SourceFile]]: ...

    def song_files(self) -> Iterator[SourceFile]: ...

    def lines(self, file: SourceFile) -> Iterator[bytes]: ...

    def head(self, file: SourceFile, size: int) -> bytes:
        """At most the first ``size`` bytes of the file (S3: one ranged GET)."""
        ...

    def read_all(self, files: Iterator[SourceFile]) -> Iterator[tuple[SourceFile, bytes]]: ...

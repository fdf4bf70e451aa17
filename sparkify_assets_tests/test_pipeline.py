"""Parsing in a producer thread: chunks arrive in order, errors reach the COPY, nothing leaks."""

import itertools
import threading
from datetime import date

import pytest

from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.warehouse.base import WarehouseError
from sparkify_assets.warehouse.pipeline import BackgroundReader
from sparkify_assets.warehouse.postgres import CopyStream


class Chunks:
    """Numbered chunks, optionally failing after ``fail_after`` of them; endless by default."""

    def __init__(self, count=None, fail_after=None):
        self.counter = itertools.count()
        self.count, self.fail_after = count, fail_after

    def read(self, size=-1):
        number = next(self.counter)
        if self.fail_after is not None and number >= self.fail_after:
            raise OSError("source went away")
        if self.count is not None and number >= self.count:
            return b""
        return f"{number}\n".encode()


def producer_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "copy-producer"]


def test_chunks_arrive_in_order_then_end():
    with BackgroundReader(Chunks(count=50), depth=2) as reader:
        received = list(iter(reader.read, b""))
        assert reader.read() == b""  # stays at the end
    assert received == [f"{n}\n".encode() for n in range(50)]
    assert producer_threads() == []


def test_a_producer_error_is_raised_by_read():
    with BackgroundReader(Chunks(fail_after=3)) as reader:
        assert [reader.read() for _ in range(3)] == [b"0\n", b"1\n", b"2\n"]
        with pytest.raises(OSError, match="source went away"):
            reader.read()
    assert producer_threads() == []


def test_leaving_early_stops_an_endless_producer():
    with BackgroundReader(Chunks(), depth=2) as reader:
        reader.read()
    assert producer_threads() == []


class FailingSource(LocalSource):
    """The bundled sample, except that one day's file breaks off after a few lines."""

    def lines(self, file):
        for number, line in enumerate(super().lines(file)):
            if number == 5:
                raise OSError(f"{file.key}: connection reset")
            yield line


def test_a_source_error_mid_day_rolls_the_day_back(warehouse, bundled_sample):
    source = FailingSource(bundled_sample)
    day = date(2018, 11, 3)
    # psycopg2 ends the COPY with the reader's error; the user gets one line naming the day.
    with pytest.raises(WarehouseError, match="staging_events 2018-11-03: .*connection reset"):
        warehouse.stage_events_day(source, day, source.event_files()[day])
    assert warehouse.query("SELECT COUNT(*) FROM staging_events")[0][0] == 0
    assert producer_threads() == []
    # The same day loads once the source behaves.
    result = warehouse.stage_events_day(LocalSource(bundled_sample), day, source.event_files()[day])
    assert (
        result.loaded > 0
        and warehouse.query("SELECT COUNT(*) FROM staging_events")[0][0] == result.loaded
    )


def test_copy_stream_chunks_hold_whole_lines():
    lines = [f"row {n}\n".encode() for n in range(1000)]
    stream = CopyStream(iter(lines), chunk_bytes=100)
    chunks = list(iter(stream.read, b""))
    assert all(chunk.endswith(b"\n") for chunk in chunks) and len(chunks) > 10
    assert b"".join(chunks) == b"".join(lines)

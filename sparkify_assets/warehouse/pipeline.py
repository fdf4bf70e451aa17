"""Parsing overlapped with COPY: a thread parses the next chunks while psycopg2 sends this one.

``copy_expert`` pulls a chunk from its file object, sends it, and pulls the next. Parsing in
that same thread stops whenever PostgreSQL is behind and the socket is full, and PostgreSQL waits
whenever Python is parsing. psycopg2 releases the GIL while it sends and waits, so a producer
thread keeps parsing meanwhile: one core parses, the other is PostgreSQL
(docs/performance.md).

Memory stays bounded: at most ``depth`` chunks wait in the queue.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

QUEUE_DEPTH = 4
_POLL_SECONDS = 0.1


class ChunkSource(Protocol):
    def read(self, size: int = -1) -> bytes: ...


class BackgroundReader:
    """A file object for ``copy_expert`` whose chunks are produced ahead by a thread.

    Use it as a context manager: leaving the block stops and joins the thread even when the COPY
    failed half-way, and afterwards everything the producer updated (tallies, rejects) is final.
    An exception raised while producing is raised again from ``read``.
    """

    def __init__(self, source: ChunkSource, depth: int = QUEUE_DEPTH):
        self._source = source
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, name="copy-producer", daemon=True)

    def __enter__(self) -> BackgroundReader:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting for room
                self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                pass
        self._thread.join()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._source.read()
                if not self._put(chunk) or not chunk:
                    return
        except BaseException as err:  # handed to the consumer, which raises it
            self._put(err)

    def read(self, size: int = -1) -> bytes:
        if self._finished:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if not item:
            self._finished = True
        return item

    readline = read

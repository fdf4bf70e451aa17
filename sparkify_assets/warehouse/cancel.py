"""Statements that an interrupt (Ctrl-C, SIGTERM, the UI's Terminate) stops within a second.

psycopg2 waits for a statement inside libpq, with the GIL released, and Python runs a signal
handler only between bytecodes: a SIGINT during a ten-minute INSERT would take effect when the
INSERT ends, or, if something swallowed it meanwhile, not at all. So a statement issued from the
main thread runs in a helper thread while the main thread waits on an event, which a signal
interrupts at once. Whatever the handler raises (KeyboardInterrupt, Dagster's
DagsterExecutionInterruptedError, the CLI's Interrupted) then cancels the backend
(``connection.cancel()``, i.e. PQcancel, which PostgreSQL and Redshift honour), ends a COPY's
data stream, waits briefly for the server to acknowledge, and propagates unchanged: the
transaction is rolled back by ``Warehouse.transaction`` and nothing retries it, because an
interrupt is not an ``Exception``.

Statements issued from other threads (the check workers) run where they are called; they are
registered too, so ``cancel_in_flight`` stops them when the main thread is interrupted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager, suppress
from typing import Any

import psycopg2

# How long an interrupted statement may take to acknowledge its cancel before the interrupt
# propagates anyway (PostgreSQL answers within milliseconds; a dead server never does).
CANCEL_GRACE_SECONDS = 5.0

_lock = threading.Lock()
_in_flight: set[Callable[[], None]] = set()


class CopyCancelled(Exception):
    """Raised by a COPY's data stream once its statement is cancelled (psycopg2 ends the COPY)."""


def cancel_in_flight() -> None:
    """Cancel every statement running on any thread now (best effort, never raises)."""
    with _lock:
        cancels = list(_in_flight)
    for cancel in cancels:
        with suppress(Exception):
            cancel()


@contextmanager
def _registered(cancel: Callable[[], None]):
    with _lock:
        _in_flight.add(cancel)
    try:
        yield
    finally:
        with _lock:
            _in_flight.discard(cancel)


def run_cancellably(call: Callable[[], Any], cancel: Callable[[], None]) -> Any:
    """``call()``, stopped by ``cancel()`` as soon as the calling thread is interrupted."""
    with _registered(cancel):
        if threading.current_thread() is not threading.main_thread():
            return call()
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["value"] = call()
            except BaseException as err:  # handed to the waiting thread
                outcome["error"] = err
            finally:
                done.set()

        threading.Thread(target=work, name="sparkify-statement", daemon=True).start()
        try:
            done.wait()
        except BaseException:
            cancel_in_flight()
            done.wait(CANCEL_GRACE_SECONDS)
            raise
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")


class _StoppableStream:
    """A COPY's data source whose ``read`` fails once the COPY is cancelled.

    Cancelling the backend alone does not end a COPY FROM STDIN: the server only reports the
    cancel when the client stops sending, and a day file may have minutes of data left.
    """

    def __init__(self, stream):
        self._stream = stream
        self.stopped = threading.Event()

    def read(self, size: int = -1):
        if self.stopped.is_set():
            raise CopyCancelled("the load was interrupted")
        return self._stream.read(size)

    readline = read

    def write(self, data):  # COPY ... TO STDOUT
        if self.stopped.is_set():
            raise CopyCancelled("the load was interrupted")
        return self._stream.write(data)


class CancellableCursor:
    """A psycopg2 cursor whose ``execute`` and ``copy_expert`` stop when interrupted."""

    def __init__(self, cursor, connection):
        self._cursor = cursor
        self._connection = connection

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)

    def _cancel_backend(self) -> None:
        with suppress(psycopg2.Error):
            self._connection.cancel()

    def execute(self, statement, params=None):
        return run_cancellably(
            lambda: self._cursor.execute(statement, params), self._cancel_backend
        )

    def copy_expert(self, statement, stream, size: int = 8192):
        stoppable = _StoppableStream(stream)

        def cancel() -> None:
            stoppable.stopped.set()
            self._cancel_backend()

        return run_cancellably(lambda: self._cursor.copy_expert(statement, stoppable, size), cancel)

"""Ctrl-C (SIGINT) and SIGTERM for a command: stop at once, and know which signal it was.

Outside a Dagster run the handlers installed here raise ``Interrupted``. During a run, Dagster
puts its own handlers in place (both signals raise DagsterExecutionInterruptedError inside a
step, which does not say which signal it was); a wakeup socket, written by the interpreter
itself for every signal that has a Python handler, records the signal numbers either way.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; the command stops and exits with 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int) -> int:
    return 128 + signum  # 130 for SIGINT, 143 for SIGTERM, as a shell reports a killed command


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class SignalLog:
    """The signals received while ``interrupts_raise`` is active, in order."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._received: list[int] = []

    def received(self) -> list[int]:
        try:
            while chunk := self._reader.recv(64):
                self._received += [number for number in chunk if number in SIGNALS]
        except OSError:  # nothing more to read (or already closed)
            pass
        return list(self._received)

    def first(self) -> int | None:
        received = self.received()
        return received[0] if received else None

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


def _raise_interrupted(signum: int, _frame) -> None:
    raise Interrupted(signum)


@contextmanager
def interrupts_raise() -> Iterator[SignalLog]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread; the log says which came."""
    log = SignalLog()
    previous = {number: signal.signal(number, _raise_interrupted) for number in SIGNALS}
    previous_fd = signal.set_wakeup_fd(log._writer.fileno(), warn_on_full_buffer=False)
    try:
        yield log
    finally:
        signal.set_wakeup_fd(previous_fd)
        for number, handler in previous.items():
            signal.signal(number, handler)
        log.received()
        log.close()

"""An interrupt cancels the statement running in the warehouse, as the UI's Terminate needs.

Dagster terminates a step by sending SIGINT to the step's process, which raises
DagsterExecutionInterruptedError inside the step. Here the same happens in this process, while
a long statement runs on the main thread: the interrupt must come through at once and the
server must no longer run the statement.
"""

import os
import signal
import threading
import time

import pytest
from dagster import DagsterExecutionInterruptedError
from dagster._core.errors import raise_execution_interrupts  # the test drives Dagster's own

from sparkify_assets.defs.checks import run_tasks

SLEEP = "SELECT pg_sleep(60)"


def _interrupt_soon(seconds: float = 0.5) -> None:
    threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT)).start()


def _running(warehouse, text: str) -> bool:
    rows = warehouse.query(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND query = %s", (text,)
    )
    return rows[0][0] > 0


def test_an_interrupt_cancels_a_long_statement_on_the_server(warehouse):
    started = time.monotonic()
    with pytest.raises(DagsterExecutionInterruptedError), raise_execution_interrupts():
        _interrupt_soon()
        with warehouse.transaction() as cursor:
            cursor.execute(SLEEP)
    assert time.monotonic() - started < 10  # not the 60 s of the statement
    assert not _running(warehouse, SLEEP)


def test_an_interrupt_ends_a_copy_whose_data_is_still_coming(warehouse):
    class Endless:  # a day file that would take minutes to send
        def read(self, size=-1):
            time.sleep(0.01)
            return b"1\n" * 100

    with warehouse.transaction() as cursor:
        cursor.execute("CREATE TABLE numbers (n INTEGER)")
    started = time.monotonic()
    with pytest.raises(DagsterExecutionInterruptedError), raise_execution_interrupts():
        _interrupt_soon()
        with warehouse.transaction() as cursor:
            cursor.copy_expert("COPY numbers FROM STDIN", Endless())
    assert time.monotonic() - started < 10
    assert warehouse.query("SELECT COUNT(*) FROM numbers") == [(0,)]  # rolled back


def test_an_interrupt_cancels_the_check_workers_statements_too(warehouse):
    tasks = [lambda cursor: cursor.execute(SLEEP)] * 2
    started = time.monotonic()
    with pytest.raises(DagsterExecutionInterruptedError), raise_execution_interrupts():
        _interrupt_soon()
        run_tasks(warehouse, tasks, workers=2)
    assert time.monotonic() - started < 10
    time.sleep(0.5)  # the workers' cancels are acknowledged asynchronously
    assert not _running(warehouse, SLEEP)

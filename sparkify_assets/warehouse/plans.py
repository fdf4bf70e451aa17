"""The plans a warehouse runs: each a list of ``Transaction``s, built by one function each.

The warehouse executes these objects and ``sparkify sql`` prints them, so what is printed is
what runs. A value only known while running (the batch id of pending rows, a COPY's stream of
rows) is a literal of the same type or a named stream in the plan, and printed as such.

A statement of a plan is a ``psycopg2.sql.Composed``, a ``CopyIn`` (a ``COPY ... FROM STDIN``
whose rows the run streams from a named source), a ``Script`` (statements sent in one round
trip) or a ``Checkpoint`` (where the run checks what it has done so far and rolls the
transaction back if the check fails); ``execute`` runs them.

A build reads one value at run time: how many changes are pending (``Pending``), which decides
between replacing a scope, rebuilding whole or doing nothing. Its transaction starts with the
statements that read it (``build_head``), the same for every outcome; the rest follows from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, NamedTuple

from psycopg2 import sql

from sparkify_assets.sql import catalog, changes, render
from sparkify_assets.sql.model import Table, Window
from sparkify_assets.sql.state import PENDING_CHANGES

if TYPE_CHECKING:
    from sparkify_assets.warehouse.base import Warehouse


@dataclass(frozen=True)
class Branch:
    """Statements a transaction runs after its own when the value they read picks ``case``
    (``None``: always); ``says`` is printed before them, ``mode`` names the outcome."""

    case: str | None
    says: str
    statements: tuple
    mode: str = ""


@dataclass(frozen=True)
class Transaction:
    """One transaction of a plan, as ``sparkify sql`` prints it (its lock, then its statements).

    ``lock`` is a ``lock_key`` the warehouse turns into its lock statement. ``when`` says when
    it runs if not always (the failure path); ``notes`` annotate statements by index, e.g. where
    a printed literal stands for a value only known while loading. ``branches``: what follows
    ``statements``, chosen by the value the last of them reads (a build's pending changes).
    """

    statements: list
    lock: str | None = None
    when: str | None = None
    notes: dict[int, str] = field(default_factory=dict)
    branches: tuple[Branch, ...] = ()

    def branch(self, case: str) -> Branch:
        return next(b for b in self.branches if b.case in (None, case))


@dataclass(frozen=True)
class CopyIn:
    """``COPY ... FROM STDIN`` whose rows come from the run's stream named ``stream``."""

    statement: sql.Composed
    stream: str


@dataclass(frozen=True)
class Checkpoint:
    """Where a run checks what it has done so far (``name``); ``says`` is what is printed."""

    name: str
    says: str


@dataclass(frozen=True)
class Script:
    """Statements sent in one round trip (joined by ";"), printed one by one."""

    statements: tuple


# What a run hands ``execute``: for each stream, what opens it (when its COPY starts), and for
# each checkpoint, what checks it, given the cursor (raising rolls the transaction back).
Streams = dict[str, Callable[[], AbstractContextManager[IO]]]
Checks = dict[str, Callable[[object], None]]


def execute(cursor, statements, streams: Streams | None = None, checks: Checks | None = None):
    """Run a plan's statements on an open transaction's cursor."""
    for statement in statements:
        if isinstance(statement, CopyIn):
            with (streams or {})[statement.stream]() as stream:
                cursor.copy_expert(statement.statement, stream)
        elif isinstance(statement, Checkpoint):
            (checks or {})[statement.name](cursor)
        elif isinstance(statement, Script):
            cursor.execute(sql.SQL(";\n").join(statement.statements))
        else:
            cursor.execute(statement)


# Each transaction names the pending rows it writes with a fresh id; printed, a placeholder.
PRINTED_BATCH = "<batch id of the transaction>"


class Pending(NamedTuple):
    """What a build's snapshot of ``pending_changes`` holds: rows, and whether one says all."""

    rows: int
    everything: bool

    @property
    def case(self) -> str:
        """Which of a build's branches it picks."""
        return "all" if self.everything else "some" if self.rows else "none"


NOTHING_PENDING = Pending(0, False)
# Each branch a build can take, with the pending rows that pick it and how it is printed.
_CASES = (
    (Pending(1, True), "when a pending change says all"),
    (Pending(1, False), "when changes are pending"),
    (NOTHING_PENDING, "when nothing is pending"),
)


def lock_key(*parts: str) -> str:
    return ":".join(("sparkify", *parts))


def build_lock_key(table: Table) -> str:
    # One lock per table, not per window: a song refresh rebuilds songplays over a range that
    # overlaps the day a sensor run rebuilds, and overlapping delete-then-insert transactions
    # would collide on the primary key.
    return lock_key(table.name, "rebuild")


def build_head(warehouse: Warehouse, table: Table) -> list:
    """The statements a build starts with: the snapshot of its pending rows and their count."""
    if not (table.scope or changes.tells_days(table, catalog.ALL_TABLES)):
        return []
    schema = warehouse.schema_name
    return [*changes.snapshot(table, PENDING_CHANGES, schema), changes.snapshot_size()]


def build_body(
    warehouse: Warehouse,
    table: Table,
    window: Window | None,
    full: bool,
    pending: Pending,
    batch: str,
) -> tuple[list, str]:
    """What a build runs after its head, and which mode that is (full, window, scope,
    window+scope or unchanged)."""
    schema, tables = warehouse.schema_name, catalog.ALL_TABLES
    full = full or pending.everything
    if full or not (table.window_column or table.scope):  # no scope: rebuilt every run
        snapshotted = bool(build_head(warehouse, table))
        statements, modes = (
            changes.replace_all(table, tables, schema, batch, warehouse.dialect, snapshotted),
            ["full"],
        )
    else:
        statements, modes = [], []
        if window is not None and table.window_column:
            statements += changes.replace_window(table, tables, schema, batch, window)
            if window.days > 1:  # a backfill: downstream plans need statistics
                statements.append(render.analyze(table, schema))
            else:
                statements += warehouse.day_statistics_statements(table)
            modes.append("window")
        if pending.rows and table.scope:
            statements += changes.fill_scope(table, schema)
            statements += changes.replace_scope(table, tables, schema, batch)
            statements.append(changes.consumed(table, schema))
            modes.append("scope")
    if statements:  # new pages get a BRIN summary for the next day's DELETE
        statements += render.summarize_day_index(table, schema, warehouse.dialect)
    return statements, "+".join(modes) or "unchanged"


def build(
    warehouse: Warehouse, table: Table, window: Window | None, full: bool, batch: str
) -> Transaction:
    """The transaction that brings a built table up to date: its head, then the branch the
    pending changes the head counts pick (one branch when they cannot change the outcome)."""
    head = build_head(warehouse, table)
    branches = []
    for pending, says in _CASES if head else ((NOTHING_PENDING, ""),):
        body, mode = build_body(warehouse, table, window, full, pending, batch)
        branches.append(Branch(pending.case, f"{says}: {mode}", tuple(body), mode))
    if all(branch.statements == branches[0].statements for branch in branches):
        branches = [dataclasses.replace(branches[0], case=None, says="")]
    return Transaction(head, build_lock_key(table), branches=tuple(branches))

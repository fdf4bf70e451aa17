"""The plans a warehouse runs: each a list of ``Transaction``s, built by one function each.

The warehouse executes these objects and ``sparkify sql`` prints them, so what is printed is
what runs. A value only known while running (the batch id of pending rows, a COPY's stream of
rows) is a literal of the same type or a named stream in the plan, and printed as such.

A build reads one value at run time: how many changes are pending (``Pending``), which decides
between replacing a scope, rebuilding whole or doing nothing. Its transaction starts with the
statements that read it (``build_head``), the same for every outcome; the rest follows from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from sparkify_assets.sql import catalog, changes, render
from sparkify_assets.sql.model import Table, Window
from sparkify_assets.sql.state import PENDING_CHANGES

if TYPE_CHECKING:
    from sparkify_assets.warehouse.base import Warehouse


@dataclass(frozen=True)
class Transaction:
    """One transaction of a plan, as ``sparkify sql`` prints it (its lock, then its statements).

    ``lock`` is a ``lock_key`` the warehouse turns into its lock statement. ``when`` says when
    it runs if not always (the failure path); ``notes`` annotate statements by index, e.g. where
    a printed literal stands for a value only known while loading.
    """

    statements: list
    lock: str | None = None
    when: str | None = None
    notes: dict[int, str] = field(default_factory=dict)


class Pending(NamedTuple):
    """What a build's snapshot of ``pending_changes`` holds: rows, and whether one says all."""

    rows: int
    everything: bool


NOTHING_PENDING = Pending(0, False)
# Each transaction names the pending rows it writes with a fresh id; printed, a placeholder.
PRINTED_BATCH = "<batch id of the transaction>"


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
    warehouse: Warehouse,
    table: Table,
    window: Window | None,
    full: bool,
    pending: Pending,
    batch: str,
) -> tuple[Transaction, str]:
    """The transaction that brings a built table up to date, and its mode."""
    body, mode = build_body(warehouse, table, window, full, pending, batch)
    head = build_head(warehouse, table)
    return Transaction([*head, *body], build_lock_key(table)), mode

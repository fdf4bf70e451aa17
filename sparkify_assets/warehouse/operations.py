"""What an operator runs against a warehouse outside a load: the check before it, and a reset."""

from __future__ import annotations

import threading

from psycopg2 import sql

from sparkify_assets.sql import catalog
from sparkify_assets.warehouse.base import PREFLIGHT_SECONDS, Warehouse, WarehouseError, lock_key


def connect_once(warehouse: Warehouse, timeout: float = PREFLIGHT_SECONDS) -> None:
    """Connect once, without retries, or raise a WarehouseError within ``timeout`` seconds.

    Run before a load, so that a refused connection, an unknown host or a wrong password is
    one line at once, not minutes of retries meant for a connection lost mid-run. A thread
    bounds the wait, since libpq's connect_timeout does not cover resolving the host name.
    """
    warehouse.prepare_connection()  # e.g. start the embedded server, however long that takes
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            warehouse.connect().close()
            outcome.append(None)
        except BaseException as err:  # handed to the waiting thread
            outcome.append(err)

    worker = threading.Thread(target=attempt, name="sparkify-preflight", daemon=True)
    worker.start()
    worker.join(timeout)
    checked = "(checked before loading; nothing was run)"
    if not outcome:
        raise WarehouseError(
            f"cannot connect to {warehouse.target_name()}: no answer within {timeout:.0f} s "
            f"{checked}"
        )
    if isinstance(outcome[0], WarehouseError):
        raise WarehouseError(f"{outcome[0]} {checked}") from None
    if outcome[0] is not None:
        raise outcome[0]


def reset_tables(warehouse: Warehouse) -> None:
    """Empty every table: drop and create them again, in one transaction (retried if transient)."""

    def drop_and_create() -> None:
        with warehouse.transaction(lock=lock_key("ddl")) as cursor:
            for table in catalog.ALL_TABLES:
                cursor.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(warehouse.table(table.name))
                )
            for statement in warehouse.ddl():
                cursor.execute(statement)

    warehouse._with_retries("emptying the warehouse", drop_and_create)

"""Every statement a deployment runs, in order, as text: what ``sparkify sql`` prints.

The statements come from the functions the warehouse itself runs them from (DDL, each staging
transaction, the shared star rebuilds, the check rules), so the printout cannot drift from what
runs, both paths of every staging load included (the failure path under a comment that says
when it runs). Values only known while loading (the session id and start time that identify a
load's rejected lines on Redshift, a file's counts in load_audit) are printed as literals of the
same type, as the load sends them, with a comment saying what they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from psycopg2 import sql

from sparkify_assets.core.redact import redact
from sparkify_assets.sql.catalog import BUILT_TABLES
from sparkify_assets.sql.checks import RULES, count_and_sample
from sparkify_assets.sql.in_flight import in_flight, watch
from sparkify_assets.sql.model import EVERY_DAY, Window
from sparkify_assets.sql.render import to_text
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS
from sparkify_assets.warehouse import plans
from sparkify_assets.warehouse.base import Warehouse
from sparkify_assets.warehouse.plans import Transaction, lock_key


@dataclass(frozen=True)
class Section:
    title: str
    statements: tuple[str, ...]  # each complete and ending with ';' (a comment may precede it)


def _text(statement) -> str:
    return to_text(statement).strip() + ";"


def _transaction(
    warehouse: Warehouse,
    title: str,
    lock: str | None,
    statements: list,
    notes: dict[int, str] | None = None,
) -> Section:
    """A section for one ``Warehouse.transaction``: BEGIN, its lock, the statements, COMMIT."""
    lock_statement = warehouse.lock_statement(lock) if lock else None
    texts = ["BEGIN;"] + ([_text(lock_statement)] if lock_statement is not None else [])
    for index, statement in enumerate(statements):
        note = (notes or {}).get(index)
        texts.append((f"-- {note}\n" if note else "") + _text(statement))
    return Section(title, (*texts, "COMMIT;"))


def _planned(warehouse: Warehouse, title: str, transaction: Transaction) -> Section:
    return _transaction(
        warehouse, title, transaction.lock, transaction.statements, transaction.notes
    )


def _load(warehouse: Warehouse, title: str, transactions: list[Transaction]) -> Section:
    """A section for a staging load: each of its transactions, the failure path last."""
    texts: list[str] = []
    for transaction in transactions:
        section = _transaction(
            warehouse, title, transaction.lock, transaction.statements, transaction.notes
        )
        first, *rest = section.statements
        when = f"-- {transaction.when}\n" if transaction.when else ""
        texts += [when + first, *rest]
    return Section(title, tuple(texts))


def _statistics(warehouse: Warehouse, table):
    statements = warehouse.statistics_statements(table)
    if statements:
        yield _transaction(warehouse, f"statistics of {table.name}", None, statements)


def _staging(warehouse: Warehouse, data_uri: str, keys_by_day: dict[date, list[str]]):
    for day, keys in sorted(keys_by_day.items()):
        partition = day.isoformat()
        yield _load(
            warehouse, f"staging_events {partition}", warehouse.events_day_sql(data_uri, day, keys)
        )
    yield from _statistics(warehouse, STAGING_EVENTS)
    yield _load(warehouse, "staging_songs", warehouse.songs_sql(data_uri))
    yield from _statistics(warehouse, STAGING_SONGS)


PRINTED_BATCH = plans.PRINTED_BATCH


def _transforms(warehouse: Warehouse):
    # `sparkify load` reloads every day, so it rebuilds every built table whole.
    for table in BUILT_TABLES:
        transaction, _ = plans.build(
            warehouse, table, None, True, plans.NOTHING_PENDING, PRINTED_BATCH
        )
        yield _planned(warehouse, f"{table.name} (full rebuild)", transaction)


def _incremental(warehouse: Warehouse, day: date):
    # A day's run (and a song refresh) instead replaces the day, then what is pending.
    window = Window(day, day + timedelta(days=1))
    for table in BUILT_TABLES:
        transaction, _ = plans.build(
            warehouse,
            table,
            window if table.window_column else None,
            False,
            plans.Pending(1, False),
            PRINTED_BATCH,
        )
        yield _planned(
            warehouse,
            f"{table.name} (incremental run for {day}, with pending changes)",
            transaction,
        )


def _checks(warehouse: Warehouse):
    schema, dialect = warehouse.schema_name, warehouse.dialect
    for rules in RULES.values():
        for rule in rules:
            # One snapshot for the whole transaction; then what another run is half-way through
            # (defs.checks.judge), and the rule over the rest of the days.
            first = [sql.SQL(statement) for statement in dialect.consistent_reads]
            days, behind = in_flight(rule, schema, EVERY_DAY)
            seen = watch(rule)
            first += [behind] if seen.behind else []
            first += [days] if seen.days else []
            count, sample = count_and_sample(rule, schema, dialect=dialect)
            notes = {len(first) + 1: "only when the count above is not 0"}
            if seen.behind or seen.days:
                notes[len(first)] = (
                    "only when nothing is pending above; once for each range of days between "
                    "those left out"
                )
            yield _transaction(
                warehouse, f"check {rule.table}.{rule.name}", None, [*first, count, sample], notes
            )


def deployment_sql(
    warehouse: Warehouse, data_uri: str, keys_by_day: dict[date, list[str]]
) -> list[Section]:
    """DDL, staging for each day (then songs), star rebuilds, checks: the order of a load."""
    if not keys_by_day:
        raise ValueError("no days to show: pass --day/--days or put log files in the source")
    ddl = _transaction(warehouse, "DDL", lock_key("ddl"), warehouse.ddl())
    return [
        ddl,
        *_staging(warehouse, data_uri, keys_by_day),
        *_transforms(warehouse),
        *_incremental(warehouse, max(keys_by_day)),
        *_checks(warehouse),
    ]


def render_script(target: str, sections: list[Section]) -> str:
    lines = [
        f"-- Every statement the {target} deployment runs, in order "
        "(DDL, staging, transforms, checks)."
    ]
    for section in sections:
        lines += ["", f"-- {section.title}", *section.statements]
    # Secrets must never be printed, even if one ended up inside a statement (a URI, a name).
    return redact("\n".join(lines)) + "\n"

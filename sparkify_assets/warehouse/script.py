"""Every statement a deployment runs, in order, as text: what ``sparkify sql`` prints.

The statements come from the functions the warehouse itself runs them from (DDL, each staging
transaction, the shared star rebuilds, the check rules), so the printout cannot drift from what
runs, both paths of every staging load included (the failure path under a comment that says
when it runs). Values only known while loading (the session id and start time that identify a
load's rejected lines on Redshift, a file's counts in load_audit) are printed as literals of the
same type, as the load sends them, with a comment saying what they stand for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from psycopg2 import sql

from sparkify_assets.core.redact import redact
from sparkify_assets.sql.catalog import BUILT_TABLES, built_from, told_by
from sparkify_assets.sql.checks import RULES, count_and_sample
from sparkify_assets.sql.in_flight import in_flight, watch
from sparkify_assets.sql.model import EVERY_DAY, Window
from sparkify_assets.sql.render import to_text
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS
from sparkify_assets.warehouse import plans, versioned
from sparkify_assets.warehouse.base import Warehouse, utc_now
from sparkify_assets.warehouse.plans import (
    PRINTED_BATCH,
    Branch,
    Checkpoint,
    CopyIn,
    Script,
    Transaction,
)


@dataclass(frozen=True)
class Section:
    title: str
    statements: tuple[str, ...]  # each complete and ending with ';' (a comment may precede it)


def _text(statement) -> str:
    if isinstance(statement, CopyIn):
        return f"-- rows streamed from the load's {statement.stream}\n" + _text(statement.statement)
    return to_text(statement).strip() + ";"


def _transaction(
    warehouse: Warehouse,
    title: str,
    lock: str | None,
    statements: list,
    notes: dict[int, str] | None = None,
    branches: tuple[Branch, ...] = (),
) -> Section:
    """A section for one ``Warehouse.transaction``: BEGIN, its lock, the statements, each branch
    under the comment that says when it runs, COMMIT."""
    lock_statement = warehouse.lock_statement(lock) if lock else None
    texts = ["BEGIN;"] + ([_text(lock_statement)] if lock_statement is not None else [])
    texts += _texts(statements, notes or {})
    for branch in branches:
        said = f"-- {branch.says}\n" if branch.says else ""
        if not branch.statements:  # said before whatever comes next
            texts.append(said + "-- (nothing more)\n")
            continue
        first, *rest = _texts(branch.statements, {})
        texts += [said + first, *rest]
    return Section(title, _attach_comments([*texts, "COMMIT;"]))


def _texts(statements, notes: dict[int, str]) -> list[str]:
    texts = []
    checkpoint = ""
    for index, statement in enumerate(statements):
        if isinstance(statement, Script):  # one round trip, printed statement by statement
            texts += [checkpoint + _text(part) for part in statement.statements]
            checkpoint = ""
            continue
        if isinstance(statement, Checkpoint):  # said before the statement that follows it
            checkpoint = f"-- {statement.says}\n"
            continue
        note = notes.get(index)
        texts.append(checkpoint + (f"-- {note}\n" if note else "") + _text(statement))
        checkpoint = ""
    return texts


def _attach_comments(texts: list[str]) -> tuple[str, ...]:
    """Comment-only entries joined to the statement after them: each entry ends with ';'."""
    attached: list[str] = []
    pending = ""
    for text in texts:
        if text.endswith("\n"):
            pending += text
        else:
            attached.append(pending + text)
            pending = ""
    return tuple(attached)


def _load(warehouse: Warehouse, title: str, transactions: list[Transaction]) -> Section:
    """A section for one or more transactions, each under a comment saying when it runs if not
    always (a staging load's failure path)."""
    texts: list[str] = []
    for transaction in transactions:
        section = _transaction(
            warehouse,
            title,
            transaction.lock,
            transaction.statements,
            transaction.notes,
            transaction.branches,
        )
        first, *rest = section.statements
        when = f"-- {transaction.when}\n" if transaction.when else ""
        texts += [when + first, *rest]
    return Section(title, tuple(texts))


def _statistics(warehouse: Warehouse, table, one_day: bool = False):
    one = warehouse.day_statistics_statements
    statements = one(table) if one_day else warehouse.statistics_statements(table)
    if statements:
        yield _transaction(warehouse, f"statistics of {table.name}", None, statements)


def _staging_days(warehouse: Warehouse, data_uri: str, keys_by_day: dict[date, list[str]]):
    for day, keys in sorted(keys_by_day.items()):
        partition = day.isoformat()
        yield _load(
            warehouse, f"staging_events {partition}", warehouse.events_day_sql(data_uri, day, keys)
        )
    yield from _statistics(warehouse, STAGING_EVENTS, one_day=len(keys_by_day) == 1)


def _staging_songs(warehouse: Warehouse, data_uri: str, plan: Plan):
    if plan is Plan.LOAD and warehouse.loads_changed_song_files:  # every file on a first load
        first = _first_load(warehouse.songs_sql(data_uri), "no song file is loaded yet")
        later = _first_load(warehouse.song_files_sql(data_uri), "song files are loaded already")
        yield _load(warehouse, "staging_songs", [*first, *later])
    elif plan in (Plan.LOAD, Plan.FULL_REFRESH):
        yield _load(warehouse, "staging_songs", warehouse.songs_sql(data_uri))
    else:
        yield _load(warehouse, "staging_songs (changed files)", warehouse.song_files_sql(data_uri))
    yield from _statistics(warehouse, STAGING_SONGS)


def _first_load(transactions: list[Transaction], case: str) -> list[Transaction]:
    return [
        dataclasses.replace(t, when=f"when {case}" + (f"; {t.when}" if t.when else ""))
        for t in transactions
    ]


def _builds(warehouse: Warehouse, plan: Plan, window: Window | None, tables: tuple):
    """Each built table the run builds, in run order: whole for a load (which reloads every
    day), else the run's window and what is pending."""
    full = plan in (Plan.LOAD, Plan.FULL_REFRESH)
    what = "full rebuild" if full else f"{plan.value} run"
    for table in tables:
        days = window if table.window_column and plan is Plan.DAY else None
        transaction = plans.build(warehouse, table, days, full, PRINTED_BATCH)
        yield _load(warehouse, f"{table.name} ({what})", [transaction])


def _checks(warehouse: Warehouse, tables: set[str]):
    schema, dialect = warehouse.schema_name, warehouse.dialect
    for name, rules in RULES.items():
        for rule in rules if name in tables else ():
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


class Plan(StrEnum):
    """What ``sparkify sql`` shows: one of the runs a deployment makes."""

    LOAD = "load"  # sparkify load: every day reloaded, every built table rebuilt whole
    DAY = "day"  # a day's run (the schedule, the sensor): its days, then what they changed
    SONGS = "songs"  # a song refresh: the changed song files, then what they changed
    FULL_REFRESH = "full-refresh"  # sparkify load --full-refresh: every song file re-read too


def run_tables(plan: Plan) -> tuple:
    """The built tables a run builds, in run order: every one for a load; for a day's run those
    built from staging_events; for a song refresh those its changes reach."""
    if plan is Plan.DAY:
        return built_from(STAGING_EVENTS.name)
    if plan is Plan.SONGS:
        return told_by(STAGING_SONGS.name)
    return BUILT_TABLES


def deployment_sql(
    warehouse: Warehouse,
    data_uri: str,
    keys_by_day: dict[date, list[str]],
    plan: Plan | str = Plan.LOAD,
) -> list[Section]:
    """The transactions of one run, in order: DDL, staging, builds, checks."""
    plan = Plan(plan)
    if not keys_by_day and plan is not Plan.SONGS:
        raise ValueError("no days to show: pass --day/--days or put log files in the source")
    ddl = _load(warehouse, "DDL", [versioned.ensure_plan(warehouse, utc_now())])
    staging = [] if plan is Plan.SONGS else list(_staging_days(warehouse, data_uri, keys_by_day))
    if plan is not Plan.DAY:
        staging += _staging_songs(warehouse, data_uri, plan)
    window = Window(min(keys_by_day), max(keys_by_day) + timedelta(days=1)) if keys_by_day else None
    tables = run_tables(plan)
    staged = {
        Plan.LOAD: (STAGING_EVENTS, STAGING_SONGS),
        Plan.FULL_REFRESH: (STAGING_EVENTS, STAGING_SONGS),
        Plan.DAY: (STAGING_EVENTS,),
        Plan.SONGS: (STAGING_SONGS,),
    }[plan]
    checked = {table.name for table in (*staged, *tables)}
    return [
        ddl,
        *staging,
        *_builds(warehouse, plan, window, tables),
        *_checks(warehouse, checked),
    ]


def render_script(target: str, sections: list[Section]) -> str:
    lines = [
        f"-- Every statement the {target} deployment runs, in order (DDL, staging, builds, checks)."
    ]
    for section in sections:
        lines += ["", f"-- {section.title}", *section.statements]
    # Secrets must never be printed, even if one ended up inside a statement (a URI, a name).
    return redact("\n".join(lines)) + "\n"

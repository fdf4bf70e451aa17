"""Dagster asset checks built from the SQL rules in ``sql.checks``.

Each table gets one multi-asset check for the rules that read only it and what is built before
it, so they run right after the asset in the same run; a blocking rule that fails with ERROR stops
the downstream assets. Rules that read tables built later (songplays' references into users,
time, songs, artists) go in a second check that declares those tables as ``additional_deps``, so
in a run that builds them it runs after they are materialized. Results carry the violation
count, the rows it looked at (a daily table's days checked) and a few offending rows.
"""

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    DagsterError,
    MetadataValue,
    ResourceParam,
    multi_asset_check,
)

from sparkify_assets.core import settings
from sparkify_assets.defs.assets.factory import FULL_REFRESH_TAG
from sparkify_assets.defs.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from sparkify_assets.sql import render
from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.sql.checks import RULES, WARN, Rule, count_and_sample
from sparkify_assets.sql.dialect import REDSHIFT, Dialect
from sparkify_assets.sql.in_flight import in_flight, settled_windows, watch
from sparkify_assets.sql.model import EVERY_DAY
from sparkify_assets.warehouse.base import Warehouse
from sparkify_assets.warehouse.cancel import cancel_in_flight


def count_rows(cursor, schema: str, table: str, window: tuple[date, date] = EVERY_DAY) -> int:
    """Rows the checks looked at: a daily table's rows of the days checked, else the table's."""
    cursor.execute(
        render.count_rows(TABLES[table], schema, None if window == EVERY_DAY else window)
    )
    (rows,) = cursor.fetchone()
    return rows


def find_violations(
    rule: Rule,
    cursor,
    schema: str,
    window: tuple[date, date] = EVERY_DAY,
    dialect: Dialect = REDSHIFT,
) -> tuple[int, list[str]]:
    """A rule's violation count and, when it fails, a few offending rows as text."""
    count_query, sample_query = count_and_sample(rule, schema, window=window, dialect=dialect)
    cursor.execute(count_query)
    (violations,) = cursor.fetchone()
    sample = []
    if violations:
        cursor.execute(sample_query)
        sample = [", ".join(map(str, row)) for row in cursor.fetchall()]
    return violations, sample


def judge(
    rule: Rule,
    cursor,
    schema: str,
    window: tuple[date, date] = EVERY_DAY,
    dialect: Dialect = REDSHIFT,
) -> tuple[int, list[str], str]:
    """``find_violations`` over what no other run is half-way through, and what was left out.

    Called in a transaction that reads one snapshot (``consistent_reads``), so the days in flight
    and the rule see the same committed state.
    """
    days_query, behind_query = in_flight(rule, schema, window)
    seen = watch(rule)
    if seen.behind:
        cursor.execute(behind_query)
        (behind,) = cursor.fetchone()
        if behind:
            tables = ", ".join(seen.behind)
            return 0, [], f"not judged: {tables} still have {behind} pending change(s) to apply"
    days: list[date] = []
    if seen.days:
        cursor.execute(days_query)
        days = [row[0] for row in cursor.fetchall()]
    violations, sample = 0, []
    for settled in settled_windows(window, days):
        count, rows = find_violations(rule, cursor, schema, settled, dialect)
        violations, sample = violations + count, (sample + rows)[:SAMPLE_ROWS]
    left_out = ", ".join(day.isoformat() for day in days)
    return violations, sample, f"days left to the run rebuilding them: {left_out}" if days else ""


SAMPLE_ROWS = 5


def check_result(
    rule: Rule, violations: int, sample: list[str], rows: int, in_flight_note: str = ""
) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=rule.table,
        check_name=rule.name,
        passed=violations == 0,
        severity=AssetCheckSeverity.WARN if rule.severity == WARN else AssetCheckSeverity.ERROR,
        description=rule.description,
        metadata={
            "violations": violations,
            "rows_checked": rows,
            "sample": MetadataValue.md("\n".join(f"- `{row}`" for row in sample) or "none"),
            # What another run was half-way through when this check read (docs/concurrency.md).
            "in_flight": in_flight_note or "none",
        },
    )


Task = Callable[[object], object]  # cursor -> value


@contextmanager
def consistent_reads(warehouse: Warehouse):
    """A read-only transaction whose every statement sees the same committed state.

    PostgreSQL's default (READ COMMITTED) gives each statement its own snapshot, so a rule and
    the in-flight days read before it could see different states; REPEATABLE READ takes one at
    the first query. Redshift's transactions read one snapshot anyway (its serializable and
    snapshot isolation both take it at the first statement).
    """
    with warehouse.transaction() as cursor:
        for statement in warehouse.dialect.consistent_reads:
            cursor.execute(statement)
        yield cursor


def run_tasks(warehouse: Warehouse, tasks: list[Task], workers: int) -> list:
    """Each task's value, in the order given, run on up to ``workers`` connections at once.

    Check queries only read, and while a step runs nothing else uses the warehouse (the
    in-process executor runs one step at a time). PostgreSQL runs many of the rules' plans
    (anti-joins, per-day aggregates) on one core, so a second connection puts the otherwise idle
    second core to work. psycopg2 connections must not be shared between threads: each
    worker opens its own transaction and takes tasks from a queue until none are left, so a
    slow rule does not hold up the others. The first error stops the workers and is raised.
    """
    workers = min(workers, len(tasks))
    if workers <= 1:
        with consistent_reads(warehouse) as cursor:
            return [task(cursor) for task in tasks]
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for index, task in enumerate(tasks):
        pending.put((index, task))
    values: list = [None] * len(tasks)
    failed = threading.Event()

    def work() -> None:
        with consistent_reads(warehouse) as cursor:
            while not failed.is_set():
                try:
                    index, task = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    values[index] = task(cursor)
                except BaseException:
                    failed.set()
                    raise

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sparkify-check") as pool:
            futures = [pool.submit(work) for _ in range(workers)]
    except BaseException:  # an interrupt while waiting: stop the workers' queries too
        failed.set()
        cancel_in_flight()
        raise
    for future in futures:
        future.result()  # re-raises a worker's error
    return values


def evaluate_all(
    warehouse: Warehouse,
    rules: list[Rule],
    workers: int,
    window: tuple[date, date] = EVERY_DAY,
) -> list[AssetCheckResult]:
    """Every rule's result, in rule order; each rule's table is counted once, not once a rule.

    ``window``: the days the rules about daily data look at (all of them by default).
    """
    schema, dialect = warehouse.schema_name, warehouse.dialect
    tables = list(dict.fromkeys(rule.table for rule in rules))
    tasks: list[Task] = [
        *(
            lambda cursor, table=table: count_rows(cursor, schema, table, window)
            for table in tables
        ),
        *(lambda cursor, rule=rule: judge(rule, cursor, schema, window, dialect) for rule in rules),
    ]
    values = run_tasks(warehouse, tasks, workers)
    rows = dict(zip(tables, values[: len(tables)], strict=True))
    return [
        check_result(rule, violations, sample, rows[rule.table], note)
        for rule, (violations, sample, note) in zip(rules, values[len(tables) :], strict=True)
    ]


def run_tags(context) -> dict[str, str]:
    """The run's tags; none when the check is invoked directly (tests), which audits all."""
    try:
        return dict(context.run.tags)
    except DagsterError:  # a directly invoked check's context has no run
        return {}


def checked_days(tags: dict[str, str]) -> tuple[date, date]:
    """The days a run's checks look at: the days it loaded (its partition or range), or every
    day for a run without partitions or a full refresh (the full audit: ``full_audit``)."""
    if tags.get(FULL_REFRESH_TAG):
        return EVERY_DAY
    first = tags.get(PARTITION_NAME_TAG) or tags.get(ASSET_PARTITION_RANGE_START_TAG)
    last = tags.get(PARTITION_NAME_TAG) or tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if not (first and last):
        return EVERY_DAY
    return date.fromisoformat(first), date.fromisoformat(last) + timedelta(days=1)


def table_checks(name: str, rules: list[Rule]) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(
            rule.name,
            asset=rule.table,
            description=rule.description,
            blocking=rule.blocking,
            additional_deps=list(rule.after),
        )
        for rule in rules
    ]

    @multi_asset_check(specs=specs, name=name, can_subset=True)
    def _checks(context, warehouse: ResourceParam[Warehouse]):
        selected = {key.name for key in context.selected_asset_check_keys}
        warehouse.ensure_tables()  # on an empty warehouse, not_empty fails instead of erroring
        chosen = [rule for rule in rules if rule.name in selected]
        if chosen:
            window = checked_days(run_tags(context))
            yield from evaluate_all(warehouse, chosen, settings.check_workers(), window)

    return _checks


def checks_for(table: str, rules: list[Rule]) -> list[AssetChecksDefinition]:
    own = [rule for rule in rules if not rule.after]
    later = [rule for rule in rules if rule.after]
    groups = [(f"{table}_checks", own), (f"{table}_integrity_checks", later)]
    return [table_checks(name, group) for name, group in groups if group]


TABLE_CHECKS = [check for table, rules in RULES.items() for check in checks_for(table, rules)]

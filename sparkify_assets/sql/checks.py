"""Data-quality rules as SQL: each rule is a query for *violations*, passing when it returns none.

Because every rule has that one shape, the Dagster checks can count violations and show a few
offending keys the same way for all of them, and ``sparkify sql`` can print them for Redshift.
Rules that every keyed table gets (non-empty, primary key) are derived from its definition; the
others are one SQL template each, with ``{table}`` placeholders like the build SQL in ``tables``.
Templates avoid CTEs so they can be wrapped in ``SELECT COUNT(*) FROM (...)`` on both targets.

Severity follows who broke what:
- ERROR, blocking: an invariant the pipeline itself guarantees (keys, reconciliation, partition
  days). A violation means a defect, so downstream assets must not build on it.
- ERROR, not blocking: referential integrity of songplays. Those rules read tables built *after*
  songplays (users, time, ...), so they run once those exist, and a blocking check there would
  make `time` wait for itself. A failure still fails ``sparkify load``.
- WARN: the source says something implausible (a level outside free/paid, a negative duration)
  or records were quarantined below the tolerance. The data loads as given; someone should look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from psycopg2 import sql

from sparkify_assets.sql import render
from sparkify_assets.sql.analytics import ANALYTICS_TABLES
from sparkify_assets.sql.catalog import ALL_TABLES, STAGING_TABLES
from sparkify_assets.sql.dialect import REDSHIFT, Dialect
from sparkify_assets.sql.drift import DRIFT_RULES
from sparkify_assets.sql.model import EVERY_DAY
from sparkify_assets.sql.render import statement, table_ref
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS, Table, songplay_id

ERROR = "ERROR"
WARN = "WARN"


@dataclass(frozen=True)
class Rule:
    table: str
    name: str
    description: str
    # (schema, window) -> SELECT returning offending rows; a window of days limits the rules
    # about daily data to those days (the days a run wrote), EVERY_DAY is the full audit.
    violations: Callable[..., sql.Composed]
    blocking: bool = True  # stops downstream assets when it fails
    severity: str = ERROR  # ERROR or WARN
    after: tuple[str, ...] = ()  # tables the rule reads that are built after `table`
    # (schema) -> a query with a row when the engine itself enforces the rule, so that the
    # violations cannot exist and their query is not run (see ``count_and_sample``).
    enforced_by: Callable[[str], sql.Composed] | None = None

    def __post_init__(self) -> None:
        if self.blocking and (self.severity != ERROR or self.after):
            raise ValueError(
                f"{self.table}.{self.name}: only an ERROR rule that reads nothing "
                "built after its table can block"
            )


def _window_values(window: tuple[date, date]) -> dict[str, sql.Literal]:
    start, end = window
    return {
        "window_start": sql.Literal(start.isoformat()),
        "window_end": sql.Literal(end.isoformat()),
    }


def _template(query: str) -> Callable[..., sql.Composed]:
    """A rule from SQL; ``{window_start}`` / ``{window_end}`` bound the days it looks at."""
    return lambda schema, window=EVERY_DAY: statement(query, schema, **_window_values(window))


def _not_empty(table: Table) -> Rule:
    def violations(schema: str, window=EVERY_DAY) -> sql.Composed:
        # Stops at the first row, so it costs the same however long the history.
        return sql.SQL(
            "SELECT 'no rows' AS problem, 0 AS row_count WHERE NOT EXISTS (SELECT 1 FROM {})"
        ).format(table_ref(schema, table.name))

    if table in ANALYTICS_TABLES:
        # An answer can legitimately be empty (e.g. no user changed level this month): report it,
        # but do not fail the run over it.
        return Rule(
            table.name,
            "not_empty",
            f"{table.name} has at least one row (a warning: an analytics answer may be empty).",
            violations,
            blocking=False,
            severity=WARN,
        )
    return Rule(table.name, "not_empty", f"{table.name} has at least one row.", violations)


def _primary_key(table: Table) -> Rule:
    """Duplicate or NULL keys; a composite key is grouped by all its columns (portable SQL)."""
    keys = [sql.Identifier(column) for column in table.primary_key]
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(key) for key in keys)

    def violations(schema: str, window=EVERY_DAY) -> sql.Composed:
        # A daily table's keys are checked within the days (its rows of other days are not
        # what the run wrote; PostgreSQL's primary key enforces them anyway).
        days = (
            sql.SQL(
                " WHERE {column} IS NULL"
                " OR ({column} >= {window_start} AND {column} < {window_end})"
            ).format(column=sql.Identifier(table.window_column), **_window_values(window))
            if table.window_column
            else sql.SQL("")
        )
        return sql.SQL(
            "SELECT {keys}, COUNT(*) AS copies FROM {table}{days} "
            "GROUP BY {keys} HAVING COUNT(*) > 1 OR {any_null}"
        ).format(
            keys=sql.SQL(", ").join(keys),
            table=table_ref(schema, table.name),
            days=days,
            any_null=any_null,
        )

    key = ", ".join(table.primary_key)
    return Rule(
        table.name,
        "primary_key",
        f"({key}) is unique and never NULL (Redshift does not enforce primary keys).",
        violations,
        enforced_by=lambda schema: render.primary_key_constraint(table, schema),
    )


def _references(column: str, parent: str, parent_key: str) -> Rule:
    """songplays.<column> (when not NULL) exists in <parent>.<parent_key>."""
    query = f"""
SELECT p.songplay_id, p.{column}
FROM {{songplays}} p
LEFT JOIN {{{parent}}} d ON d.{parent_key} = p.{column}
WHERE p.{column} IS NOT NULL AND d.{parent_key} IS NULL
  AND p.start_time >= {{window_start}} AND p.start_time < {{window_end}}
"""
    return Rule(
        "songplays",
        f"{column}_in_{parent}",
        f"Every non-NULL songplays.{column} exists in {parent}.{parent_key}.",
        _template(query),
        blocking=False,
        after=(parent,),
    )


def _level_is_free_or_paid(table: str, key: str, day_filter: str = "TRUE") -> Rule:
    query = f"SELECT {key}, level FROM {{{table}}} WHERE (level IS NULL OR level NOT IN "
    query += f"('free', 'paid')) AND {day_filter}"
    return Rule(
        table,
        "level_is_free_or_paid",
        f"{table}.level is 'free' or 'paid'.",
        _template(query),
        blocking=False,
        severity=WARN,
    )


def _not_negative(table: str, column: str, key: str, day_filter: str = "TRUE") -> Rule:
    return Rule(
        table,
        f"{column}_not_negative",
        f"{table}.{column} (seconds) is never negative.",
        _template(f"SELECT {key}, {column} FROM {{{table}}} WHERE {column} < 0 AND {day_filter}"),
        blocking=False,
        severity=WARN,
    )


def _rejects(table: Table) -> Rule:
    query = f"""
SELECT partition_key, source, line_number, reason
FROM {{load_rejects}}
WHERE asset = '{table.name}'
"""
    return Rule(
        table.name,
        "rejects",
        f"No record meant for {table.name} was quarantined in load_rejects. Rejects below the "
        "tolerance (SPARKIFY_MAX_REJECT_SHARE) load the partition and show here as a warning.",
        _template(query),
        blocking=False,
        severity=WARN,
    )


def _reconciles_with_audit(table: Table, partition_column: str | None, per_file: bool) -> Rule:
    """Every audited file balances (read = loaded + rejected), and the audit matches what the
    staging table and load_rejects hold: per file, or per partition when ``per_file`` is False."""
    file_of_row = "source" if per_file else "'all files'"
    grouping = [f"TO_CHAR({partition_column}, 'YYYY-MM-DD')"] if partition_column else []
    partition_of_row = grouping[0] if grouping else "''"
    grouping += ["source"] if per_file else []
    group_staged = f"GROUP BY {', '.join(grouping)}" if grouping else ""
    group_rejects = "GROUP BY partition_key" + (", source" if per_file else "")
    # Per file, a file without exactly one audit row is itself a violation.
    unaudited = "SUM(audited) <> 1\n    OR " if per_file else ""
    # A daily table is reconciled for the days checked (partition keys are ISO dates).
    days = "partition_key >= {window_start} AND partition_key < {window_end}"
    audit_days, reject_days = (f"AND {days}", f"AND {days}") if partition_column else ("", "")
    staged_days = (
        f"WHERE {partition_column} >= {{window_start}} AND {partition_column} < {{window_end}}"
        if partition_column
        else ""
    )
    query = f"""
SELECT partition_key, source,
       SUM(records) AS records, SUM(loaded) AS loaded, SUM(rejected) AS rejected,
       SUM(staged) AS staged, SUM(quarantined) AS quarantined
FROM (
    SELECT partition_key, {file_of_row} AS source, records, loaded, rejected,
           0 AS staged, 0 AS quarantined, 1 AS audited,
           CASE WHEN records <> loaded + rejected THEN 1 ELSE 0 END AS unbalanced
    FROM {{load_audit}} WHERE asset = '{table.name}' {audit_days}
    UNION ALL
    SELECT {partition_of_row}, {file_of_row}, 0, 0, 0, COUNT(*), 0, 0, 0
    FROM {{{table.name}}} {staged_days} {group_staged}
    UNION ALL
    SELECT partition_key, {file_of_row}, 0, 0, 0, 0, COUNT(*), 0, 0
    FROM {{load_rejects}} WHERE asset = '{table.name}' {reject_days} {group_rejects}
) tallies
GROUP BY partition_key, source
HAVING {unaudited}SUM(unbalanced) > 0
    OR SUM(loaded) <> SUM(staged)
    OR SUM(rejected) <> SUM(quarantined)
"""
    scope = "For every file" if per_file else "Over all files (each file's tally balances)"
    return Rule(
        table.name,
        "reconciles_with_audit",
        f"{scope} of the latest load: records read = rows in {table.name} + rows in "
        "load_rejects, as tallied in load_audit. Nothing was lost or duplicated.",
        _template(query),
    )


# A play's day: the staging event's event_date for the songplay, and the songplay's own day.
_PLAY_KEY = songplay_id("e")
_EVENTS_IN_WINDOW = "e.event_date >= {window_start} AND e.event_date < {window_end}"
_PLAYS_IN_WINDOW = "start_time >= {window_start} AND start_time < {window_end}"

SONGPLAYS_PER_DAY = Rule(
    "songplays",
    "rows_per_day_match_staging",
    "For each day, songplays has one row per distinct NextSong event with a userId in "
    "staging_events (copies of an event, same session and item, count once).",
    _template(f"""
SELECT day, SUM(expected) AS expected_plays, SUM(built) AS songplays
FROM (
    SELECT e.event_date AS day, COUNT(DISTINCT {_PLAY_KEY}) AS expected, 0 AS built
    FROM {{staging_events}} e
    WHERE e.page = 'NextSong' AND e.user_id <> '' AND {_EVENTS_IN_WINDOW}
    GROUP BY e.event_date
    UNION ALL
    SELECT CAST(p.start_time AS DATE), 0, COUNT(*)
    FROM {{songplays}} p
    WHERE {_PLAYS_IN_WINDOW}
    GROUP BY CAST(p.start_time AS DATE)
) per_day
GROUP BY day
HAVING SUM(expected) <> SUM(built)
"""),
)

START_TIME_ON_EVENT_DAY = Rule(
    "songplays",
    "start_time_in_partition_day",
    "Every songplay's start_time falls on the UTC day (partition) of the log file its event "
    "came from.",
    # A play of the days checked without its event on its own day. (An event whose play landed
    # on another day also leaves its own day one play short: rows_per_day_match_staging.)
    _template(f"""
SELECT p.songplay_id, p.start_time, e.event_date
FROM {{songplays}} p
LEFT JOIN {{staging_events}} e
  ON e.session_id = p.session_id AND {_PLAY_KEY} = p.songplay_id
 AND e.page = 'NextSong' AND e.user_id <> '' AND {_EVENTS_IN_WINDOW}
 AND e.event_date = CAST(p.start_time AS DATE)
WHERE p.start_time >= {{window_start}} AND p.start_time < {{window_end}}
  AND e.event_date IS NULL
"""),
)


def _holds_exactly(
    table: str,
    key: str,
    origin: str,
    origin_key: str,
    origin_filter: str,
    description: str,
    table_filter: str = "TRUE",
) -> Rule:
    """<table>.<key> is exactly the set of ``origin_key`` over ``origin`` rows that pass
    ``origin_filter``: none missing, none extra.

    Two anti-joins (NOT EXISTS), so neither side is made DISTINCT before comparing: on 1M events
    that halves the time of a FULL OUTER JOIN against a DISTINCT. Both targets plan them as hash
    anti-joins. A NULL key never matches, so it always shows as a violation.
    """
    query = f"""
SELECT DISTINCT 'missing from {table}' AS problem, {origin_key} AS {key}
FROM {{{origin}}} o
WHERE {origin_filter} AND NOT EXISTS (SELECT 1 FROM {{{table}}} t WHERE t.{key} = {origin_key})
UNION ALL
SELECT 'not in {origin}', t.{key}
FROM {{{table}}} t
WHERE {table_filter}
  AND NOT EXISTS (SELECT 1 FROM {{{origin}}} o WHERE {origin_filter} AND {origin_key} = t.{key})
"""
    return Rule(table, f"match_{origin}_{key}s", description, _template(query))


# users against its per-day summary (a row per user and day, not per event), and the summary
# against staging for the days checked: together, users holds exactly staging's user ids.
USERS_MATCH_STAGING = _holds_exactly(
    "users",
    "user_id",
    "user_latest_by_day",
    "o.user_id",
    "TRUE",
    "users holds exactly the user ids of user_latest_by_day (one per user with events on any day).",
)
USER_DAYS_MATCH_STAGING = Rule(
    "user_latest_by_day",
    "match_staging_events_user_days",
    "For each day checked, user_latest_by_day holds exactly the distinct non-empty user ids of "
    "that day's staging_events, none missing, none extra.",
    _template(f"""
SELECT day, user_id, SUM(staged) AS in_staging, SUM(summarized) AS in_summary
FROM (
    SELECT e.event_date AS day, CAST(e.user_id AS INTEGER) AS user_id, 1 AS staged,
           0 AS summarized
    FROM {{staging_events}} e
    WHERE e.user_id <> '' AND {_EVENTS_IN_WINDOW}
    GROUP BY e.event_date, CAST(e.user_id AS INTEGER)
    UNION ALL
    SELECT day, user_id, 0, 1
    FROM {{user_latest_by_day}}
    WHERE day >= {{window_start}} AND day < {{window_end}}
) pairs
GROUP BY day, user_id
HAVING SUM(staged) <> 1 OR SUM(summarized) <> 1
"""),
)
TIME_MATCHES_SONGPLAYS = _holds_exactly(
    "time",
    "start_time",
    "songplays",
    "o.start_time",
    "o.start_time >= {window_start} AND o.start_time < {window_end}",
    "time holds exactly the distinct start_time values of songplays.",
    "t.start_time >= {window_start} AND t.start_time < {window_end}",
)

HOURS_MATCH_SONGPLAYS = Rule(
    "user_plays_by_hour",
    "match_songplays_hours",
    "For each day checked, user_plays_by_hour holds one row per (user_id, UTC hour) with plays "
    "in songplays, and its plays count them: none missing, none extra, none miscounted.",
    _template(f"""
SELECT hour_start, user_id, SUM(played) AS in_songplays, SUM(summarized) AS in_summary
FROM (
    SELECT DATE_TRUNC('hour', start_time) AS hour_start, user_id, COUNT(*) AS played,
           0 AS summarized
    FROM {{songplays}}
    WHERE {_PLAYS_IN_WINDOW}
    GROUP BY DATE_TRUNC('hour', start_time), user_id
    UNION ALL
    SELECT hour_start, user_id, 0, plays
    FROM {{user_plays_by_hour}}
    WHERE hour_start >= {{window_start}} AND hour_start < {{window_end}}
) pairs
GROUP BY hour_start, user_id
HAVING COUNT(*) <> 2 OR SUM(played) <> SUM(summarized)
"""),
)

_SPECIFIC_RULES = [
    _rejects(STAGING_EVENTS),
    _reconciles_with_audit(STAGING_EVENTS, "event_date", per_file=True),
    _not_negative(
        "staging_events",
        "length",
        "source, line_number",
        "event_date >= {window_start} AND event_date < {window_end}",
    ),
    _rejects(STAGING_SONGS),
    *(
        Rule(r.table, r.name, r.description, _template(r.query), blocking=False, severity=WARN)
        for r in DRIFT_RULES
    ),
    # Song rows are matched to the audit in total: Redshift's one COPY of song_data/ cannot say
    # which file a row came from (its staging_songs.source is the prefix).
    _reconciles_with_audit(STAGING_SONGS, None, per_file=False),
    SONGPLAYS_PER_DAY,
    START_TIME_ON_EVENT_DAY,
    _level_is_free_or_paid("songplays", "songplay_id", _PLAYS_IN_WINDOW),
    _references("user_id", "users", "user_id"),
    _references("start_time", "time", "start_time"),
    _references("song_id", "songs", "song_id"),
    _references("artist_id", "artists", "artist_id"),
    USER_DAYS_MATCH_STAGING,
    USERS_MATCH_STAGING,
    _level_is_free_or_paid("users", "user_id"),
    _not_negative("songs", "duration", "song_id"),
    TIME_MATCHES_SONGPLAYS,
    HOURS_MATCH_SONGPLAYS,
]


def rules_for(table: Table) -> list[Rule]:
    generic = [_not_empty(table), _primary_key(table)] if table.primary_key else []
    return generic + [rule for rule in _SPECIFIC_RULES if rule.table == table.name]


# Every keyed table (star schema and analytics) gets the generic rules, staging its own.
RULES: dict[str, list[Rule]] = {
    table.name: rules_for(table)
    for table in ALL_TABLES
    if table.primary_key or table in STAGING_TABLES
}


def count_and_sample(
    rule: Rule,
    schema: str,
    sample: int = 5,
    window: tuple[date, date] = EVERY_DAY,
    dialect: Dialect = REDSHIFT,
) -> tuple[sql.Composed, sql.Composed]:
    """The rule's violation count and a few of them; where ``dialect`` enforces the rule itself
    (a primary key on PostgreSQL) the query first asks the catalog, and reads the table only
    when the constraint is not there."""
    violations = rule.violations(schema, window)
    if rule.enforced_by is not None and dialect.enforces_primary_keys:
        violations = sql.SQL("SELECT * FROM ({}) unenforced WHERE NOT EXISTS ({})").format(
            violations, rule.enforced_by(schema)
        )
    count = render.count(sql.SQL("({}) violations").format(violations))
    # Ordered so the same violations always show the same few keys.
    return count, violations + sql.SQL(" ORDER BY 1, 2 LIMIT {}").format(sql.Literal(sample))

"""The incremental state tables: kept in the warehouse, written in the data's own transactions.

``user_latest_by_day`` is the per-day summary users are maintained from; ``pending_changes`` is
how a table tells the tables built from it which keys changed (see ``sql.changes``).
"""

from __future__ import annotations

from sparkify_assets.contract.records import EVENT_FIELDS, FREE_TEXT_BYTES
from sparkify_assets.sql.model import (
    ChangeKind,
    Column,
    Consumes,
    Emit,
    Hook,
    Index,
    IndexKind,
    Scope,
    Table,
    TableKind,
    derived_from,
)

_EVENT_TYPES = {f.column: f.sql_type for f in EVENT_FIELDS}

# A user's latest event: by time, then position, then the record's own content (copies of one
# event tie on everything before it), the same order within a day and across days.
_LATEST_FIRST = (
    "{a}.ts DESC, {a}.session_id DESC, {a}.item_in_session DESC, {a}.level DESC, "
    "{a}.first_name DESC, {a}.last_name DESC, {a}.gender DESC"
)


def latest_first(alias: str) -> str:
    return _LATEST_FIRST.format(a=alias)


def by_user(consumes: tuple[Consumes, ...], hook: str) -> Scope:
    """A table keyed by user_id, replaced for the users its producers name.

    ``hook`` is the build's user column (e.g. ``l.user_id``) that the scope limits.
    """
    return Scope(
        consumes=consumes,
        columns=(Column("user_id", "INTEGER", nullable=False),),
        select="SELECT DISTINCT user_id FROM {changes} WHERE user_id IS NOT NULL",
        rows="user_id IN (SELECT user_id FROM {scope})",
        hooks=(Hook("in_scope", f"{hook} IN (SELECT user_id FROM {{scope}})"),),
    )


def _events(*columns: str):
    return derived_from("staging_events", *columns)


USER_LATEST_BY_DAY = Table(
    name="user_latest_by_day",
    description=(
        "State: for every (user_id, UTC day) with events, the user's latest event of that day "
        "(by ts, then session and item, then content). users takes each user's latest over "
        "these rows, so loading, correcting or deleting a day recomputes only the users who "
        "have events on it (before or after), whatever order days arrive in. Daily partitioned "
        "by day."
    ),
    columns=(
        Column("day", "DATE", "UTC day of the events", False, lineage=_events("event_date")),
        Column("user_id", "INTEGER", "", False, lineage=_events("user_id")),
        Column(
            "ts", "BIGINT", "Time of the day's latest event, epoch ms", False, lineage=_events("ts")
        ),
        Column("session_id", "INTEGER", "", False, lineage=_events("session_id")),
        Column("item_in_session", "INTEGER", "", False, lineage=_events("item_in_session")),
        Column("first_name", _EVENT_TYPES["first_name"], lineage=_events("first_name")),
        Column("last_name", _EVENT_TYPES["last_name"], lineage=_events("last_name")),
        Column("gender", _EVENT_TYPES["gender"], lineage=_events("gender")),
        Column("level", _EVENT_TYPES["level"], lineage=_events("level")),
    ),
    kind=TableKind.DAILY,
    primary_key=("user_id", "day"),
    depends_on=("staging_events",),
    diststyle="ALL",
    sortkey=("day",),
    indexes=(Index(IndexKind.DAY_RANGE, "day"),),
    window_column="day",
    emits=(Emit(ChangeKind.USER, ("user_id",)),),
    build=f"""
SELECT day, user_id, ts, session_id, item_in_session, first_name, last_name, gender, level
FROM (
    SELECT e.event_date AS day, CAST(e.user_id AS INTEGER) AS user_id, e.ts, e.session_id,
           e.item_in_session, e.first_name, e.last_name, e.gender, e.level,
           ROW_NUMBER() OVER (
               PARTITION BY e.event_date, CAST(e.user_id AS INTEGER)
               ORDER BY {latest_first("e")}
           ) AS recency
    FROM {{staging_events}} e
    WHERE e.user_id <> '' AND e.event_date >= {{window_start}} AND e.event_date < {{window_end}}
) latest
WHERE recency = 1
""",
)

PENDING_CHANGES = Table(
    name="pending_changes",
    description=(
        "State: keys whose rows changed and that a table built from them has not caught up on "
        "yet. Written in the transaction that changed the rows, deleted in the one that "
        "rebuilt the consumer's scope; empty after every complete run."
    ),
    columns=(
        Column("consumer", "VARCHAR(64)", "The table to bring up to date", False),
        Column("batch", "VARCHAR(64)", "The transaction that wrote the row", False),
        Column("kind", "VARCHAR(16)", "day, user, song, artist, pair, or all", False),
        Column("day", "DATE", "A UTC day whose rows changed"),
        Column("user_id", "INTEGER", "A user whose rows changed"),
        Column("song_id", "VARCHAR(32)", "A song whose record changed"),
        Column("artist_id", "VARCHAR(32)", "An artist whose record changed"),
        Column("title", f"VARCHAR({FREE_TEXT_BYTES})", "With artist_name: plays to re-match"),
        Column("artist_name", f"VARCHAR({FREE_TEXT_BYTES})", "With title: plays to re-match"),
    ),
    kind=TableKind.LOG,
    diststyle="EVEN",
    sortkey=("consumer",),
)

# Redshift's VARCHAR maximum; the longest canonical form (songplays) is a few kB.
DEFINITION_BYTES = 65535

TABLE_VERSIONS = Table(
    name="table_versions",
    kind=TableKind.LOG,
    description=(
        "State: for every table, the fingerprint of the definition that built its rows, and that "
        "definition. Written in the same transaction as the rows; a run compares it with its "
        "own definitions before it touches a table (see docs/upgrading.md)."
    ),
    columns=(
        Column("table_name", "VARCHAR(64)", "The table", False),
        Column("fingerprint", "VARCHAR(64)", "Fingerprint of the definition", False),
        Column(
            "definition", f"VARCHAR({DEFINITION_BYTES})", "The definition's canonical form (JSON)"
        ),
        Column("loaded_at", "TIMESTAMP", "When the rows were written (UTC)"),
    ),
    diststyle="ALL",
    sortkey=("table_name",),
)

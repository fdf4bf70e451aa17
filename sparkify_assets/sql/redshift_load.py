"""Redshift staging statements: ``COPY ... FROM 's3://…'`` into a temp table, then into staging.

COPY cannot fill the columns a load adds (``event_date``, ``source``, ``line_number``), so each file
is copied into a session-private temp table and moved on with ``INSERT ... SELECT``, all inside the
partition's one transaction. The temp table has the target's distribution, so that move stays on
its node.

COPY options, each chosen on purpose:

* ``FORMAT AS JSON '<jsonpaths>'`` for the camelCase logs: the JSONPaths file
  (``sql/log_json_path.json``) lists the keys in exactly the order of the column list, which is the
  record contract's ``EVENT_FIELDS`` order. Songs use ``JSON 'auto'``: their keys are the column
  names.
* ``REGION``: the data bucket's region, so a cluster in another region can still read it.
* ``MAXERROR``: from SPARKIFY_MAX_REJECT_SHARE (see ``max_errors_for``).
* ``COMPUPDATE OFF``: the temp table lives for one file; sampling it for encodings is wasted work.
* ``STATUPDATE OFF``: statistics of a temp table are useless; the staging table itself is
  ANALYZEd once its rows are in (Redshift skips that when few rows changed).
* no ``TIMEFORMAT``: ``ts`` stays epoch milliseconds in a BIGINT, exactly as on PostgreSQL, and the
  shared star SQL converts it; TIMEFORMAT only applies to TIMESTAMP columns.
* no ``EMPTYASNULL`` / ``BLANKSASNULL``: both would turn a logged-out event's ``userId ""`` into
  NULL, and the contract keeps it ``''`` in staging (empty strings stay empty everywhere).
* no ``TRUNCATECOLUMNS``: columns are sized from the data (``records.py``); silent truncation is
  silent loss, so an oversized value is a load error and lands in ``load_rejects``.
* no ``ACCEPTINVCHARS``: invalid UTF-8 is rejected, as on PostgreSQL, instead of altered.

Rows COPY accepts still meet the record contract's other rules (``ts`` inside the file's day,
``userId`` a whole number) in ``INSERT ... SELECT``: rows breaking them go to ``load_rejects``.
Rows COPY refuses are read back from the load-error view, identified by the session and the
transaction's start time (``SELECT pg_backend_pid(), SYSDATE`` at the start of the transaction;
``SET timezone`` first, because SYSDATE is in the session's zone and the views record UTC).
Not ``pg_last_copy_id()``: it names STL query ids, which the SYS view does not use, and a failed
COPY's errors are read after its rollback, on a new connection.

Known limits, documented rather than hidden: COPY reports no line for accepted rows, so Redshift
staging rows have ``line_number`` NULL; a COPY of ``s3://…/song_data/`` does not say which file a
row came from, so staging_songs.source is the prefix; S3 COPY reads every object whose key starts
with the given key, so keep stray copies (``…-events.json.bak``) out of ``log_data/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from psycopg2 import sql

from sparkify_assets.contract.layout import day_bounds_ms
from sparkify_assets.contract.records import EVENT_FIELDS, SONG_FIELDS
from sparkify_assets.sql import render
from sparkify_assets.sql.dialect import REDSHIFT
from sparkify_assets.sql.tables import LOAD_REJECTS, STAGING_EVENTS, STAGING_SONGS, Table

# Redshift's ceiling for MAXERROR: the most rejected lines one COPY can tolerate.
MAXERROR_LIMIT = 100_000
FIRST_ERRORS = 5
SONGS_PREFIX = "song_data/"
# The load-error views keep file names as CHAR(256).
MAX_FILE_URI_BYTES = 256


@dataclass(frozen=True)
class LoadErrorView:
    """Column names of one Redshift view of COPY's rejected lines."""

    name: str
    session: str
    started: str
    file: str
    line: str
    column: str
    code: str
    message: str
    raw_line: str | None  # only stl_load_errors keeps the rejected line itself


# Where COPY's rejected lines are read from (REDSHIFT_LOAD_ERRORS_VIEW): the SYS view exists on
# provisioned clusters and Serverless alike; stl_load_errors (provisioned only) also keeps the
# raw line.
DEFAULT_LOAD_ERROR_VIEW = "sys_load_error_detail"
LOAD_ERROR_VIEWS = {
    "sys_load_error_detail": LoadErrorView(
        "sys_load_error_detail",
        "session_id",
        "start_time",
        "file_name",
        "line_number",
        "column_name",
        "error_code",
        "error_message",
        None,
    ),
    "stl_load_errors": LoadErrorView(
        "stl_load_errors",
        "session",
        "starttime",
        "filename",
        "line_number",
        "colname",
        "err_code",
        "err_reason",
        "raw_line",
    ),
}


@dataclass(frozen=True)
class CopyConfig:
    """What COPY needs besides the data: none of it is secret (an IAM role ARN is a name)."""

    schema: str
    data_uri: str  # s3://bucket[/prefix]
    iam_role_arn: str
    region: str
    log_jsonpath: str  # s3:// URI of sql/log_json_path.json, uploaded
    max_errors: int
    errors_view: LoadErrorView
    loaded_at: str  # when this load ran, UTC, as load_rejects records it

    @property
    def base(self) -> str:
        return self.data_uri.rstrip("/") + "/"


@dataclass(frozen=True)
class Marker:
    """Identifies this transaction's COPYs in the load-error view: its session and start time.

    The warehouse passes the values ``MARKER`` returned; ``sparkify sql`` prints the expressions.
    """

    session: sql.Composable
    since: sql.Composable

    @classmethod
    def of(cls, session: int, since: object) -> Marker:
        return cls(sql.Literal(session), sql.Literal(str(since)))


PRINTED_MARKER = Marker(sql.SQL("pg_backend_pid()"), sql.SQL("SYSDATE"))
SET_UTC = sql.SQL("SET timezone TO 'UTC'")
MARKER = sql.SQL("SELECT pg_backend_pid(), SYSDATE")


@dataclass(frozen=True)
class Step:
    """One statement of a load; ``counts`` says what its row count means for ``file``'s tally."""

    statement: sql.Composed
    file: str | None = None
    counts: str | None = None  # "loaded" | "rejected"


def max_errors_for(max_reject_share: float) -> int:
    """MAXERROR for a reject-share setting.

    MAXERROR counts lines, but a file's line count is unknown until COPY has read it. So a share of
    0 means MAXERROR 0 (the first bad line fails the COPY), and any other share lets COPY finish
    (up to Redshift's ceiling); the warehouse then enforces the exact share on the counts and rolls
    the partition back when it is exceeded.
    """
    return 0 if max_reject_share == 0 else MAXERROR_LIMIT


def _copy_table(target: Table, fields) -> Table:
    names = {f.column for f in fields}
    return Table(
        name=f"{target.name}_copy",
        description=f"COPY's landing table for {target.name} (temporary)",
        columns=tuple(column for column in target.columns if column.name in names),
        diststyle=target.diststyle,
        distkey=target.distkey,
    )


EVENTS_COPY = _copy_table(STAGING_EVENTS, EVENT_FIELDS)
SONGS_COPY = _copy_table(STAGING_SONGS, SONG_FIELDS)


def _columns(names) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _varchar_size(table: Table, column: str) -> int:
    (type_,) = [c.type for c in table.columns if c.name == column]
    return int(re.search(r"\((\d+)\)", type_).group(1))


def lock(schema: str, names: list[str]) -> sql.Composed:
    """Redshift has no advisory locks; LOCK holds the tables until commit.

    Two transactions writing one table would otherwise abort with a serializable isolation
    violation (ERROR 1023). Tables are listed in a fixed order so two writers cannot deadlock.
    """
    return sql.SQL("LOCK {}").format(
        sql.SQL(", ").join(render.table_ref(schema, name) for name in sorted(names))
    )


def copy(target: Table, uri: str, json_format: str, config: CopyConfig) -> sql.Composed:
    return sql.SQL(
        "COPY {table} ({columns})\nFROM {uri}\nIAM_ROLE {role}\nFORMAT AS JSON {format}\n"
        "REGION {region}\nMAXERROR {max_errors}\nCOMPUPDATE OFF\nSTATUPDATE OFF"
    ).format(
        table=sql.Identifier(target.name),
        columns=_columns(target.column_names),
        uri=sql.Literal(uri),
        role=sql.Literal(config.iam_role_arn),
        format=sql.Literal(json_format),
        region=sql.Literal(config.region),
        max_errors=sql.Literal(config.max_errors),
    )


def _event_problem(day: date) -> sql.Composed:
    """The record contract's rules COPY does not apply, as a reason (NULL when the row is fine)."""
    start, end = day_bounds_ms(day)
    return sql.SQL(
        "CASE\n"
        "        WHEN ts < {start} OR ts >= {end} THEN {outside}\n"
        "        WHEN NOT user_id ~ '^[0-9]*$' THEN 'userId is not a whole number'\n"
        "        WHEN LEN(LTRIM(user_id, '0')) > 10 OR (LEN(LTRIM(user_id, '0')) = 10\n"
        "             AND LTRIM(user_id, '0') >= '2147483648') THEN 'userId is out of range'\n"
        "    END"
    ).format(
        start=sql.Literal(start),
        end=sql.Literal(end),
        outside=sql.Literal(f"ts is outside the file's day {day.isoformat()}"),
    )


# COPY keeps no raw line for rows it accepted, so a rule reject records the fields that
# identify the event.
_EVENT_IDENTITY = sql.SQL(
    "'{\"ts\": ' || CAST(ts AS VARCHAR) || ', \"sessionId\": ' || CAST(session_id AS VARCHAR)"
    " || ', \"itemInSession\": ' || CAST(item_in_session AS VARCHAR)"
    " || ', \"userId\": ' || COALESCE('\"' || user_id || '\"', 'null') || '}'"
)


def insert_events(config: CopyConfig, day: date, key: str) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {target} ({columns})\nSELECT {copied}, {day}, {source}, NULL\nFROM {copy}\n"
        "WHERE {problem} IS NULL"
    ).format(
        target=render.table_ref(config.schema, STAGING_EVENTS.name),
        columns=_columns(STAGING_EVENTS.column_names),
        copied=_columns(EVENTS_COPY.column_names),
        day=sql.Literal(day.isoformat()),
        source=sql.Literal(key),
        copy=sql.Identifier(EVENTS_COPY.name),
        problem=_event_problem(day),
    )


def _rejects_insert(config: CopyConfig) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({})\n").format(
        render.table_ref(config.schema, LOAD_REJECTS.name), _columns(LOAD_REJECTS.column_names)
    )


def reject_events(config: CopyConfig, day: date, key: str) -> sql.Composed:
    """Quarantine the copied rows that break the rules COPY does not know."""
    return _rejects_insert(config) + sql.SQL(
        "SELECT {asset}, {day}, {source}, NULL, record_text, problem, {loaded_at}\n"
        "FROM (SELECT {identity} AS record_text, {problem} AS problem FROM {copy}) checked\n"
        "WHERE problem IS NOT NULL"
    ).format(
        asset=sql.Literal(STAGING_EVENTS.name),
        day=sql.Literal(day.isoformat()),
        source=sql.Literal(key),
        loaded_at=sql.Literal(config.loaded_at),
        identity=_EVENT_IDENTITY,
        problem=_event_problem(day),
        copy=sql.Identifier(EVENTS_COPY.name),
    )


def insert_songs(config: CopyConfig) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {target} ({columns})\nSELECT {copied}, {source}\nFROM {copy}"
    ).format(
        target=render.table_ref(config.schema, STAGING_SONGS.name),
        columns=_columns(STAGING_SONGS.column_names),
        copied=_columns(SONGS_COPY.column_names),
        source=sql.Literal(SONGS_PREFIX),
        copy=sql.Identifier(SONGS_COPY.name),
    )


def quarantine_load_errors(
    config: CopyConfig, asset: str, partition: str, marker: Marker, file_uri: str | None = None
) -> sql.Composed:
    """Copy the lines COPY refused (this transaction's, or one file's) into load_rejects."""
    view = config.errors_view
    column, message, code = map(sql.Identifier, (view.column, view.message, view.code))
    reason = sql.SQL(
        "LEFT(CASE WHEN TRIM({column}) = '' THEN '' ELSE TRIM({column}) || ': ' END"
        " || TRIM({message}) || ' (load error ' || CAST({code} AS VARCHAR) || ')', {size})"
    ).format(
        column=column,
        message=message,
        code=code,
        size=sql.Literal(_varchar_size(LOAD_REJECTS, "reason")),
    )
    raw = sql.SQL("TRIM({})").format(sql.Identifier(view.raw_line)) if view.raw_line else sql.NULL
    file = sql.SQL("TRIM({})").format(sql.Identifier(view.file))
    statement = _rejects_insert(config) + sql.SQL(
        "SELECT {asset}, {partition}, REPLACE({file}, {base}, ''), {line}, {raw}, {reason}, "
        "{loaded_at}\nFROM {view}\nWHERE {session} = {session_value} AND {started} >= {since}"
    ).format(
        asset=sql.Literal(asset),
        partition=sql.Literal(partition),
        file=file,
        base=sql.Literal(config.base),
        line=sql.Identifier(view.line),
        raw=raw,
        reason=reason,
        loaded_at=sql.Literal(config.loaded_at),
        view=sql.Identifier(view.name),
        session=sql.Identifier(view.session),
        session_value=marker.session,
        started=sql.Identifier(view.started),
        since=marker.since,
    )
    if file_uri is not None:
        statement += sql.SQL(" AND {} = {}").format(file, sql.Literal(file_uri))
    return statement


def first_rejects(config: CopyConfig, asset: str, partition: str) -> sql.Composed:
    """The first quarantined records of a partition, for an error message."""
    return sql.SQL(
        "SELECT source, line_number, reason FROM {} WHERE asset = {} AND partition_key = {}\n"
        "ORDER BY source, line_number LIMIT {}"
    ).format(
        render.table_ref(config.schema, LOAD_REJECTS.name),
        sql.Literal(asset),
        sql.Literal(partition),
        sql.Literal(FIRST_ERRORS),
    )


def _file_uri(config: CopyConfig, key: str) -> str:
    uri = config.base + key
    if len(uri.encode()) > MAX_FILE_URI_BYTES:
        raise ValueError(
            f"{uri} is longer than {MAX_FILE_URI_BYTES} bytes, so Redshift's load-error views "
            "would truncate it: use a shorter SPARKIFY_DATA_URI prefix"
        )
    return uri


def _fresh(copy_table: Table) -> list[Step]:
    return [Step(render.create_temp_table(copy_table, REDSHIFT))]


def _dropped(copy_table: Table) -> Step:
    return Step(sql.SQL("DROP TABLE {}").format(sql.Identifier(copy_table.name)))


def events_day_steps(config: CopyConfig, day: date, keys: list[str], marker: Marker) -> list[Step]:
    """Everything one day's transaction runs after its lock, SET and marker, in order."""
    partition = day.isoformat()
    steps = [
        Step(render.delete_staging(STAGING_EVENTS, config.schema, partition)),
        Step(render.delete_rejects(config.schema, STAGING_EVENTS.name, partition)),
    ]
    for key in keys:
        uri = _file_uri(config, key)
        steps += _fresh(EVENTS_COPY) + [
            Step(copy(EVENTS_COPY, uri, config.log_jsonpath, config)),
            Step(insert_events(config, day, key), key, "loaded"),
            Step(reject_events(config, day, key), key, "rejected"),
            Step(
                quarantine_load_errors(config, STAGING_EVENTS.name, partition, marker, uri),
                key,
                "rejected",
            ),
            _dropped(EVENTS_COPY),
        ]
    return [*steps, Step(render.analyze(STAGING_EVENTS, config.schema))]


def songs_steps(config: CopyConfig, marker: Marker) -> list[Step]:
    """Everything the staging_songs transaction runs after its lock, SET and marker, in order."""
    return [
        Step(render.delete_staging(STAGING_SONGS, config.schema, "")),
        Step(render.delete_rejects(config.schema, STAGING_SONGS.name, "")),
        *_fresh(SONGS_COPY),
        Step(copy(SONGS_COPY, config.base + SONGS_PREFIX, "auto", config)),
        Step(insert_songs(config), SONGS_PREFIX, "loaded"),
        Step(
            quarantine_load_errors(config, STAGING_SONGS.name, "", marker), SONGS_PREFIX, "rejected"
        ),
        _dropped(SONGS_COPY),
        Step(render.analyze(STAGING_SONGS, config.schema)),
    ]

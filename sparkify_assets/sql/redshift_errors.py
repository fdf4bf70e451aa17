"""Redshift's load-error views: reading the lines COPY refused back into ``load_rejects``.

Which view to read (``REDSHIFT_LOAD_ERRORS_VIEW``):

* ``sys_load_error_detail`` (the default) exists on provisioned clusters and on Serverless and
  covers queries run on concurrency-scaling clusters, but keeps no copy of the rejected line:
  ``raw_record`` stays NULL and the reason names the column and the error.
* ``stl_load_errors`` exists on provisioned clusters only (not on Serverless) and keeps the line
  as ``raw_line``, CHAR(1024): cut at 1,024 bytes, and every multibyte character replaced with a
  period. It misses queries that ran on concurrency-scaling clusters.

A reject is identified by the session that ran the COPY and the start time of the transaction it
ran in (``SELECT pg_backend_pid(), SYSDATE``, after ``SET timezone TO 'UTC'`` because SYSDATE is
in the session's zone and the views record UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg2 import sql

from sparkify_assets.sql import render
from sparkify_assets.sql.tables import LOAD_REJECTS

if TYPE_CHECKING:
    from sparkify_assets.sql.redshift_load import CopyConfig

FIRST_ERRORS = 5
BYTES_PER_CHARACTER = 4  # the most a character takes in UTF-8, and so in a Redshift VARCHAR
SET_UTC = sql.SQL("SET timezone TO 'UTC'")
MARKER = sql.SQL("SELECT pg_backend_pid(), SYSDATE")


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
class Marker:
    """Identifies a load's COPYs in the load-error view: its session and transaction start.

    Both are literals: the values ``MARKER`` returned when the load runs, and stand-ins of the
    same types when ``sparkify sql`` prints the load (the SQL is the same either way).
    """

    session: int
    since: str

    @property
    def literals(self) -> tuple[sql.Literal, sql.Literal]:
        return sql.Literal(self.session), sql.Literal(str(self.since))


def varchar_bytes(column: str) -> int:
    """n of a ``VARCHAR(n)`` column of load_rejects: its size in bytes on Redshift."""
    type_ = LOAD_REJECTS.column(column).type
    return int(type_[type_.index("(") + 1 : type_.index(")")])


def byte_bounded(text: sql.Composable, max_bytes: int) -> sql.Composed:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character.

    Redshift's LEFT counts characters and VARCHAR(n) counts bytes, and there is no byte-wise
    LEFT for text (SUBSTRING counts bytes only on VARBYTE, where a cut can split a character).
    So: keep the longest of ``max_bytes``, 1/2 and 1/3 of it in characters whose OCTET_LENGTH
    fits, else ``max_bytes / 4`` characters, which always fit. ASCII text keeps all
    ``max_bytes`` characters; only text with multibyte characters in that prefix is cut
    shorter. LEFT, OCTET_LENGTH and CASE behave the same on PostgreSQL (see the tests).
    """
    counts = [max_bytes // divisor for divisor in (1, 2, 3)]
    branches = [
        sql.SQL("WHEN OCTET_LENGTH(LEFT({text}, {n})) <= {max} THEN LEFT({text}, {n})").format(
            text=text, n=sql.Literal(n), max=sql.Literal(max_bytes)
        )
        for n in counts
    ]
    return sql.SQL("CASE {} ELSE LEFT({}, {}) END").format(
        sql.SQL(" ").join(branches), text, sql.Literal(max_bytes // BYTES_PER_CHARACTER)
    )


def _reason_text(view: LoadErrorView) -> sql.Composed:
    column, message, code = map(sql.Identifier, (view.column, view.message, view.code))
    return sql.SQL(
        "CASE WHEN TRIM({column}) = '' THEN '' ELSE TRIM({column}) || ': ' END"
        " || TRIM({message}) || ' (load error ' || CAST({code} AS VARCHAR(11)) || ')'"
    ).format(column=column, message=message, code=code)


def quarantine_load_errors(
    config: CopyConfig, asset: str, partition: str, marker: Marker, file_uri: str | None = None
) -> sql.Composed:
    """Copy the lines COPY refused (this load's, or one file's) into load_rejects."""
    view = config.errors_view
    raw = sql.SQL("TRIM({})").format(sql.Identifier(view.raw_line)) if view.raw_line else sql.NULL
    file = sql.SQL("TRIM({})").format(sql.Identifier(view.file))
    session, since = marker.literals
    refused = sql.SQL(
        "SELECT {file} AS refused_file, {line} AS refused_line, {raw} AS refused_raw,\n"
        "           {reason} AS refused_reason\n"
        "    FROM {view}\n    WHERE {session} = {session_value} AND {started} >= {since}"
    ).format(
        file=file,
        line=sql.Identifier(view.line),
        raw=raw,
        reason=_reason_text(view),
        view=sql.Identifier(view.name),
        session=sql.Identifier(view.session),
        session_value=session,
        started=sql.Identifier(view.started),
        since=since,
    )
    if file_uri is not None:
        refused += sql.SQL(" AND {} = {}").format(file, sql.Literal(file_uri))
    return sql.SQL(
        "INSERT INTO {rejects} ({columns})\n"
        "SELECT {asset}, {partition}, REPLACE(refused_file, {base}, ''), refused_line,\n"
        "       refused_raw, {reason}, {loaded_at}\n"
        "FROM ({refused}) refused"
    ).format(
        rejects=render.table_ref(config.schema, LOAD_REJECTS.name),
        columns=sql.SQL(", ").join(map(sql.Identifier, LOAD_REJECTS.column_names)),
        asset=sql.Literal(asset),
        partition=sql.Literal(partition),
        base=sql.Literal(config.base),
        reason=byte_bounded(sql.SQL("refused_reason"), varchar_bytes("reason")),
        loaded_at=sql.Literal(config.loaded_at),
        refused=refused,
    )


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

"""Redshift staging statements: ``COPY ... FROM 's3://…'`` into a temp table, then into staging.

COPY cannot fill the columns a load adds (``event_date``, ``source``, ``line_number``), so each file
is copied into a session-private temp table and moved on with ``INSERT ... SELECT``. The temp
table has the target's distribution, so that move stays on its node. A load is three transactions
on one session (temp tables live as long as the session):

1. **copy**, no lock: CREATE TEMP TABLE and COPY, one per file. Only this session sees these
   tables, so nothing else waits for the slow part (reading S3).
2. **move**, under ``LOCK`` of the staging table, load_rejects and load_audit: delete the
   partition, INSERT ... SELECT each file's rows, quarantine rule breakers and COPY's refused
   lines, replace the audit. The lock is the first statement, as the serializable-isolation
   guide asks ("lock all tables at the beginning of the transaction"): a COPY into a temp table
   in the same transaction would take the transaction's snapshot before the lock is granted.
3. **tidy**, no lock: ANALYZE the staging table, DROP the temp tables.

If 1 or 2 fails, a fourth transaction (under the same lock) keeps COPY's refused lines in
load_rejects and names the first ones in the error (``failed_load_steps``).

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

The temp tables' columns are all nullable, whatever the contract requires: the COPY guide says
COPY fails when it assigns NULL to a NOT NULL column, while load error 1213 suggests a per-line
error, and only a cluster can say which. The required-field rule is applied in the INSERT ...
SELECT instead, with the contract's reason (``sessionId is missing``), like the other rules COPY
does not know (``ts`` inside the file's day, ``userId`` a whole number): rows breaking them go to
``load_rejects``. Rows COPY refuses are read back from the load-error view (``redshift_errors``).
Not ``pg_last_copy_id()``: it names STL query ids, which the SYS view does not use, and a failed
COPY's errors are read after its rollback, on a new connection.

Known limits, documented rather than hidden: COPY reports no line for accepted rows, so Redshift
staging rows have ``line_number`` NULL; a COPY of ``s3://…/song_data/`` does not say which file a
row came from, so staging_songs.source is the prefix; S3 COPY reads every object whose key starts
with the given key, so keep stray copies (``…-events.json.bak``) out of ``log_data/``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from psycopg2 import sql

from sparkify_assets.contract.layout import day_bounds_ms
from sparkify_assets.contract.records import (
    EVENT_FIELDS,
    EVENT_RULES,
    SONG_FIELDS,
    SONG_RULES,
    Field,
    FieldKind,
)
from sparkify_assets.sql import render
from sparkify_assets.sql.dialect import REDSHIFT
from sparkify_assets.sql.model import TableKind
from sparkify_assets.sql.redshift_drift import drift_statements, meaning
from sparkify_assets.sql.redshift_errors import (
    LOAD_ERROR_VIEWS,
    LoadErrorView,
    Marker,
    first_rejects,
    quarantine_load_errors,
)
from sparkify_assets.sql.tables import LOAD_REJECTS, STAGING_EVENTS, STAGING_SONGS, Table

__all__ = ["LOAD_ERROR_VIEWS", "LoadErrorView", "Marker"]

# Redshift's ceiling for MAXERROR: the most rejected lines one COPY can tolerate.
MAXERROR_LIMIT = 100_000
SONGS_PREFIX = "song_data/"
# The load-error views keep file names as CHAR(256).
MAX_FILE_URI_BYTES = 256


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

    @property
    def printed_marker(self) -> Marker:
        """What ``sparkify sql`` shows for the values the load reads at run time."""
        return Marker(0, self.loaded_at)


@dataclass(frozen=True)
class Step:
    """One statement of a load; ``counts`` says what its row count means for ``file``'s tally."""

    statement: sql.Composed
    file: str | None = None
    counts: str | None = None  # "loaded" | "rejected"


@dataclass(frozen=True)
class CopiedFile:
    """One COPY of a load: what it reads, the temp table it lands in, the tally it counts to."""

    tally: str  # the load_audit source: a day file's key, or song_data/
    uri: str
    table: Table
    json_format: str  # a JSONPaths URI, or 'auto'


def max_errors_for(max_reject_share: float) -> int:
    """MAXERROR for a reject-share setting.

    MAXERROR counts lines, but a file's line count is unknown until COPY has read it. So a share of
    0 means MAXERROR 0 (the first bad line fails the COPY), and any other share lets COPY finish
    (up to Redshift's ceiling); the warehouse then enforces the exact share on the counts and rolls
    the partition back when it is exceeded.
    """
    return 0 if max_reject_share == 0 else MAXERROR_LIMIT


def _copy_table(target: Table, fields: tuple[Field, ...], name: str) -> Table:
    names = {f.column for f in fields}
    return Table(
        name=name,
        description=f"COPY's landing table for {target.name} (temporary, all columns nullable)",
        columns=tuple(
            replace(column, nullable=True) for column in target.columns if column.name in names
        ),
        kind=TableKind.TEMPORARY,
        diststyle=target.diststyle,
        distkey=target.distkey,
    )


def events_copy_table(index: int) -> Table:
    """The temp table of a day's ``index``-th file (each file is copied before any is moved)."""
    return _copy_table(STAGING_EVENTS, EVENT_FIELDS, f"{STAGING_EVENTS.name}_copy_{index}")


SONGS_COPY = _copy_table(STAGING_SONGS, SONG_FIELDS, f"{STAGING_SONGS.name}_copy")


def _columns(names) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


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


def _missing(fields: tuple[Field, ...]) -> list[sql.Composed]:
    """The contract's required-field rule, with its reason, in the contract's field order."""
    return [
        sql.SQL("WHEN {} IS NULL THEN {}").format(
            sql.Identifier(f.column), sql.Literal(f"{f.key} is missing")
        )
        for f in fields
        if f.required
    ]


def _problem(rules: list[sql.Composable]) -> sql.Composed:
    """The first broken rule's reason, NULL when the row is fine."""
    return sql.SQL("CASE\n        {}\n    END").format(sql.SQL("\n        ").join(rules))


def _event_problem(day: date) -> sql.Composed:
    """The record contract's rules COPY does not apply, as a reason (NULL when the row is fine)."""
    start, end = day_bounds_ms(day)
    return _problem(
        [
            *_missing(EVENT_FIELDS),
            sql.SQL("WHEN ts < {start} OR ts >= {end} THEN {outside}").format(
                start=sql.Literal(start),
                end=sql.Literal(end),
                outside=sql.Literal(f"ts is outside the file's day {day.isoformat()}"),
            ),
            sql.SQL("WHEN NOT user_id ~ '^[0-9]*$' THEN 'userId is not a whole number'"),
            # LENGTH, not LEN: the same on Redshift, and PostgreSQL runs it too (tests).
            sql.SQL(
                "WHEN LENGTH(LTRIM(user_id, '0')) > 10 OR (LENGTH(LTRIM(user_id, '0')) = 10\n"
                "             AND LTRIM(user_id, '0') >= '2147483648')\n"
                "             THEN 'userId is out of range'"
            ),
            *meaning(EVENT_FIELDS, EVENT_RULES),
        ]
    )


def _identity(fields: tuple[Field, ...], keys: tuple[str, ...]) -> sql.Composed:
    """A JSON-like text of the fields that identify a record: COPY keeps no raw line for rows it
    accepted, so a rule reject records these instead (null where the field is missing)."""
    parts = []
    for f in (f for f in fields if f.key in keys):
        value = (
            sql.SQL("COALESCE('\"' || {} || '\"', 'null')")
            if f.kind in (FieldKind.TEXT, FieldKind.USER_ID)
            else sql.SQL("COALESCE(CAST({} AS VARCHAR(20)), 'null')")
        ).format(sql.Identifier(f.column))
        parts.append(sql.SQL("{} || {}").format(sql.Literal(f'"{f.key}": '), value))
    return sql.SQL("'{{' || {} || '}}'").format(sql.SQL(" || ', ' || ").join(parts))


_EVENT_IDENTITY = _identity(EVENT_FIELDS, ("ts", "sessionId", "itemInSession", "userId"))
_SONG_IDENTITY = _identity(SONG_FIELDS, ("song_id", "artist_id", "title"))
_SONG_PROBLEM = _problem([*_missing(SONG_FIELDS), *meaning(SONG_FIELDS, SONG_RULES)])


def _move(
    config: CopyConfig,
    target: Table,
    copied: sql.Composable,
    source: CopiedFile,
    problem: sql.Composable,
) -> sql.Composed:
    return sql.SQL(
        "INSERT INTO {target} ({columns})\nSELECT {copied}\nFROM {copy}\nWHERE {problem} IS NULL"
    ).format(
        target=render.table_ref(config.schema, target.name),
        columns=_columns(target.column_names),
        copied=copied,
        copy=sql.Identifier(source.table.name),
        problem=problem,
    )


def insert_events(config: CopyConfig, day: date, source: CopiedFile) -> sql.Composed:
    copied = sql.SQL("{}, {}, {}, NULL").format(
        _columns(source.table.column_names), sql.Literal(day.isoformat()), sql.Literal(source.tally)
    )
    return _move(config, STAGING_EVENTS, copied, source, _event_problem(day))


def insert_songs(config: CopyConfig, source: CopiedFile) -> sql.Composed:
    copied = sql.SQL("{}, {}").format(
        _columns(source.table.column_names), sql.Literal(source.tally)
    )
    return _move(config, STAGING_SONGS, copied, source, _SONG_PROBLEM)


def _rejected(
    config: CopyConfig,
    asset: str,
    partition: str,
    source: CopiedFile,
    identity: sql.Composable,
    problem: sql.Composable,
) -> sql.Composed:
    """Quarantine the copied rows that break the rules COPY does not know."""
    return sql.SQL(
        "INSERT INTO {rejects} ({columns})\n"
        "SELECT {asset}, {partition}, {source}, NULL, record_text, problem, {loaded_at}\n"
        "FROM (SELECT {identity} AS record_text, {problem} AS problem FROM {copy}) checked\n"
        "WHERE problem IS NOT NULL"
    ).format(
        rejects=render.table_ref(config.schema, LOAD_REJECTS.name),
        columns=_columns(LOAD_REJECTS.column_names),
        asset=sql.Literal(asset),
        partition=sql.Literal(partition),
        source=sql.Literal(source.tally),
        loaded_at=sql.Literal(config.loaded_at),
        identity=identity,
        problem=problem,
        copy=sql.Identifier(source.table.name),
    )


def reject_events(config: CopyConfig, day: date, source: CopiedFile) -> sql.Composed:
    return _rejected(
        config, STAGING_EVENTS.name, day.isoformat(), source, _EVENT_IDENTITY, _event_problem(day)
    )


def reject_songs(config: CopyConfig, source: CopiedFile) -> sql.Composed:
    return _rejected(config, STAGING_SONGS.name, "", source, _SONG_IDENTITY, _SONG_PROBLEM)


def _file_uri(config: CopyConfig, key: str) -> str:
    uri = config.base + key
    if len(uri.encode()) > MAX_FILE_URI_BYTES:
        raise ValueError(
            f"{uri} is longer than {MAX_FILE_URI_BYTES} bytes, so Redshift's load-error views "
            "would truncate it: use a shorter SPARKIFY_DATA_URI prefix"
        )
    return uri


def event_files(config: CopyConfig, keys: list[str]) -> list[CopiedFile]:
    return [
        CopiedFile(key, _file_uri(config, key), events_copy_table(index), config.log_jsonpath)
        for index, key in enumerate(keys)
    ]


def song_files(config: CopyConfig) -> list[CopiedFile]:
    return [CopiedFile(SONGS_PREFIX, config.base + SONGS_PREFIX, SONGS_COPY, "auto")]


def copy_steps(config: CopyConfig, files: list[CopiedFile]) -> list[Step]:
    """Transaction 1, after SET and the marker: each file into its own temp table, no lock."""
    return [
        Step(statement)
        for source in files
        for statement in (
            render.create_temp_table(source.table, REDSHIFT),
            copy(source.table, source.uri, source.json_format, config),
        )
    ]


def _replace_partition(config: CopyConfig, target: Table, partition: str) -> list[Step]:
    return [
        Step(render.delete_staging(target, config.schema, partition)),
        Step(render.delete_rejects(config.schema, target.name, partition)),
    ]


def drift_steps(config: CopyConfig, asset: str, partition: str, files: list[CopiedFile]):
    """Replace the partition's load_drift with what SQL sees in the copied rows."""
    copied = [(source.table.name, source.tally) for source in files]
    return [Step(s) for s in drift_statements(config.schema, asset, partition, copied, config)]


def events_move_steps(
    config: CopyConfig, day: date, files: list[CopiedFile], marker: Marker
) -> list[Step]:
    """Transaction 2, after the lock: replace the day from the temp tables, file by file."""
    partition = day.isoformat()
    steps = _replace_partition(config, STAGING_EVENTS, partition)
    for source in files:
        errors = quarantine_load_errors(config, STAGING_EVENTS.name, partition, marker, source.uri)
        steps += [
            Step(insert_events(config, day, source), source.tally, "loaded"),
            Step(reject_events(config, day, source), source.tally, "rejected"),
            Step(errors, source.tally, "rejected"),
        ]
    return steps + drift_steps(config, STAGING_EVENTS.name, partition, files)


def songs_move_steps(config: CopyConfig, files: list[CopiedFile], marker: Marker) -> list[Step]:
    """Transaction 2 of the songs, after the lock: one COPY of the whole song_data/ prefix."""
    (source,) = files
    # A prefix COPY's errors name each song file, so they are this session's, not one file's.
    errors = quarantine_load_errors(config, STAGING_SONGS.name, "", marker)
    return [
        *_replace_partition(config, STAGING_SONGS, ""),
        Step(insert_songs(config, source), source.tally, "loaded"),
        Step(reject_songs(config, source), source.tally, "rejected"),
        Step(errors, source.tally, "rejected"),
        *drift_steps(config, STAGING_SONGS.name, "", files),
    ]


def audit_steps(
    config: CopyConfig, asset: str, partition: str, tallies: list, kept: bool = True
) -> list[Step]:
    """The per-file tallies of this load replace the partition's audit (as on PostgreSQL).

    ``kept`` is False after a rolled-back load: records were read, none of them kept.
    """
    steps = [Step(render.delete_audit(config.schema, asset, partition))]
    if tallies:
        steps.append(
            Step(render.insert_audit(config.schema, asset, partition, tallies, config.loaded_at))
        )
    if not kept:
        steps.append(Step(render.audit_nothing_loaded(config.schema, asset, partition)))
    return steps


def tidy_steps(config: CopyConfig, target: Table, files: list[CopiedFile]) -> list[Step]:
    """Transaction 3, no lock: statistics for the next builds, and the temp tables dropped."""
    drops = [Step(sql.SQL("DROP TABLE {}").format(sql.Identifier(f.table.name))) for f in files]
    return [Step(render.analyze(target, config.schema)), *drops]


def failed_load_steps(
    config: CopyConfig,
    asset: str,
    partition: str,
    marker: Marker,
    read: list | None,
    files: list[CopiedFile] = (),
) -> list[Step]:
    """After a rolled-back load: COPY's refused lines into load_rejects, then the first ones.

    ``read`` holds the tallies when the load failed its reject share (what was read is known);
    the audit then says that none of it was kept, and the copied ``files`` give the drift.
    """
    steps = [
        Step(render.delete_rejects(config.schema, asset, partition)),
        Step(quarantine_load_errors(config, asset, partition, marker)),
    ]
    if read is not None:
        steps += audit_steps(config, asset, partition, read, kept=False)
        steps += drift_steps(config, asset, partition, list(files))
    return [*steps, Step(first_rejects(config, asset, partition))]

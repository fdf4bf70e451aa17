"""Source drift on Redshift, where COPY reads the files: what SQL can see after the COPY.

COPY with a JSONPaths file (or ``'auto'``) maps the keys it is told about and ignores every other
key, so a new key leaves no trace in SQL. A mapped key that is absent from a record becomes NULL,
the same as a JSON null; an empty value stays ``''`` (the load sets no EMPTYASNULL). So, after
the COPY, SQL can apply the record contract's rules of meaning exactly as Python does (``meaning``,
in the move's CASE of reasons), and can count, for the keys the rules say always hold a value,
the records where that key is NULL: absent or null, SQL cannot tell which (``missing_keys``).
Unknown keys are visible only to a reader of the file: ``SPARKIFY_DRIFT_SAMPLE_LINES`` reads the
first lines of each day file from S3 for them (``docs/source-drift.md`` says what it costs).
"""

from __future__ import annotations

from typing import Protocol

from psycopg2 import sql

from sparkify_assets.contract.meaning import Meaning
from sparkify_assets.contract.records import (
    EVENT_FIELDS,
    EVENT_RULES,
    SONG_FIELDS,
    SONG_RULES,
    Field,
)
from sparkify_assets.contract.shape import MISSING
from sparkify_assets.sql import render
from sparkify_assets.sql.drift import delete_drift
from sparkify_assets.sql.load_log import LOAD_DRIFT
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS


def _no_value(f: Field, empty_ok: bool) -> sql.Composed:
    """A column without a value: NULL (a key COPY did not find, or JSON null), or for text ''
    (COPY keeps an empty string as it is)."""
    blank = f.kind in ("text", "user_id") and not empty_ok
    return sql.SQL("{0} IS NULL OR {0} = ''" if blank else "{0} IS NULL").format(
        sql.Identifier(f.column)
    )


def meaning(fields: tuple[Field, ...], rules: tuple[Meaning, ...]) -> list[sql.Composed]:
    """The contract's rules of meaning, one WHEN per key, in the order Python checks them."""
    by_key = {f.key: f for f in fields}
    cases = []
    for rule in rules:
        for key in rule.keys:
            broken = _no_value(by_key[key], rule.empty_ok)
            if rule.when is not None:
                when_key, value = rule.when
                broken = sql.SQL("{} = {} AND ({})").format(
                    sql.Identifier(by_key[when_key].column), sql.Literal(value), broken
                )
            cases.append(sql.SQL("WHEN {} THEN {}").format(broken, sql.Literal(rule.reason(key))))
    return cases


def always_present(fields: tuple[Field, ...], rules: tuple[Meaning, ...]) -> list[Field]:
    """The fields whose NULL after COPY means a record broke the contract: required, or in a
    rule that holds for every record."""
    keys = {f.key for f in fields if f.required}
    keys |= {key for rule in rules if rule.when is None for key in rule.keys}
    return [f for f in fields if f.key in keys]


def missing_keys(
    schema: str,
    copied: str,
    fields: list[Field],
    log: tuple[str, str, str, str],
) -> sql.Composed:
    """Into load_drift: for each of ``fields``, how many copied rows have it NULL (when any).

    ``copied`` is the COPY's temp table; ``log`` the asset, partition, source and loaded_at the
    rows record. COPY keeps no line numbers, so first_line is NULL.
    """
    asset, partition, source, loaded_at = log
    counts = sql.SQL("\n    UNION ALL\n    ").join(
        sql.SQL(
            "SELECT {key} AS key, SUM(CASE WHEN {column} IS NULL THEN 1 ELSE 0 END) AS records "
            "FROM {copied}"
        ).format(
            key=sql.Literal(f.key),
            column=sql.Identifier(f.column),
            copied=sql.Identifier(copied),
        )
        for f in fields
    )
    return sql.SQL(
        "INSERT INTO {drift} ({columns})\n"
        "SELECT {asset}, {partition}, {source}, key, {change}, records, NULL, {loaded_at}\n"
        "FROM (\n    {counts}\n) absent\n"
        "WHERE records > 0"
    ).format(
        drift=render.table_ref(schema, LOAD_DRIFT.name),
        columns=sql.SQL(", ").join(map(sql.Identifier, LOAD_DRIFT.column_names)),
        asset=sql.Literal(asset),
        partition=sql.Literal(partition),
        source=sql.Literal(source),
        change=sql.Literal(MISSING),
        loaded_at=sql.Literal(loaded_at),
        counts=counts,
    )


# The keys whose NULL SQL counts after COPY, per staging table.
COUNTED_BY_SQL = {
    STAGING_EVENTS.name: always_present(EVENT_FIELDS, EVENT_RULES),
    STAGING_SONGS.name: always_present(SONG_FIELDS, SONG_RULES),
}


class LoadTime(Protocol):
    loaded_at: str


def drift_statements(
    schema: str, asset: str, partition: str, copied: list[tuple[str, str]], load: LoadTime
) -> list[sql.Composed]:
    """Replace a partition's load_drift from its COPY temp tables: (temp table, source) pairs."""
    return [delete_drift(schema, asset, partition)] + [
        missing_keys(
            schema, table, COUNTED_BY_SQL[asset], (asset, partition, source, load.loaded_at)
        )
        for table, source in copied
    ]

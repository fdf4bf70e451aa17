"""load_drift: which source keys each file's records lacked or had beyond the record contract.

Written in the staging load's transaction and replaced with its partition, like load_rejects and
load_audit (``contract.shape`` counts the keys). ``report`` reads it back for ``sparkify load``:
one row per drifted key, with its file's record count, to say ``no record has userId (533
records)``.
"""

from __future__ import annotations

from typing import NamedTuple

from psycopg2 import sql

from sparkify_assets.sql.model import Column, Table
from sparkify_assets.sql.tables import LOAD_AUDIT, _load_columns

LOAD_DRIFT = Table(
    name="load_drift",
    description=(
        "Source drift: for every file of the latest load of each staging partition, each key "
        "its records lacked though the contract expects it (change 'missing') or had though the "
        "contract does not know it (change 'unknown'), with how many records and the first "
        "line. Replaced with the partition, like load_audit; a file that kept its shape has no "
        "row. On Redshift, COPY cannot see keys it does not map: see docs/source-drift.md."
    ),
    columns=_load_columns(
        "Staging asset that read the file",
        Column("key", "VARCHAR(256)", "The JSON key as written in the file", False),
        Column("change", "VARCHAR(16)", "'missing' or 'unknown'", False),
        Column("records", "INTEGER", "Records that lacked (or had) the key", False),
        Column("first_line", "INTEGER", "1-based line of the first such record"),
    ),
    diststyle="EVEN",
    sortkey=("asset", "partition_key"),
)


def delete_drift(schema: str, asset: str, partition: str) -> sql.Composed:
    """Forget a partition's drift before it is loaded again."""
    return sql.SQL("DELETE FROM {} WHERE asset = {} AND partition_key = {}").format(
        _table(schema, LOAD_DRIFT), sql.Literal(asset), sql.Literal(partition)
    )


def _table(schema: str, table: Table) -> sql.Identifier:
    # Not render.table_ref: render reads the catalog, which lists this table. The schema name
    # was checked when the warehouse was built.
    return sql.Identifier(schema, table.name)


def insert_drift(schema: str, asset: str, partition: str, rows: list, loaded_at: str):
    """load_drift rows (``records.KeyChangeRow``) as one INSERT, for a target without COPY FROM
    STDIN; None when there are none."""
    if not rows:
        return None
    values = [
        sql.SQL("({})").format(
            sql.SQL(", ").join(
                map(
                    sql.Literal,
                    (
                        asset,
                        partition,
                        row.source,
                        row.change.key,
                        row.change.change,
                        row.change.records,
                        row.change.first_line,
                        loaded_at,
                    ),
                )
            )
        )
        for row in rows
    ]
    return sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
        _table(schema, LOAD_DRIFT),
        sql.SQL(", ").join(map(sql.Identifier, LOAD_DRIFT.column_names)),
        sql.SQL(", ").join(values),
    )


def report(schema: str) -> sql.Composed:
    """Every drifted key with its file's records (from load_audit), file by file."""
    return sql.SQL(
        "SELECT d.asset, d.partition_key, d.source, d.key, d.change, d.records, d.first_line,\n"
        "       COALESCE(a.records, d.records) AS file_records\n"
        "FROM {drift} d\n"
        "LEFT JOIN {audit} a\n"
        "  ON a.asset = d.asset AND a.partition_key = d.partition_key AND a.source = d.source\n"
        "ORDER BY d.asset, d.partition_key, d.source, d.change, d.key"
    ).format(drift=_table(schema, LOAD_DRIFT), audit=_table(schema, LOAD_AUDIT))


class DriftRule(NamedTuple):
    """A check rule about load_drift, made a ``sql.checks.Rule`` there (WARN, not blocking)."""

    table: str
    name: str
    description: str
    query: str  # returns the violations: one row per drifted key


def _drift_rule(asset: str, change: str, name: str, description: str) -> DriftRule:
    # A day file's drift dates from its day; a song file's from when it was loaded.
    day = "partition_key" if asset == "staging_events" else "TO_CHAR(loaded_at, 'YYYY-MM-DD')"
    query = f"""
SELECT key, MIN({day}) AS since, MAX({day}) AS latest, COUNT(DISTINCT source) AS files,
       SUM(records) AS records, MIN(source) AS first_file
FROM {{load_drift}}
WHERE asset = '{asset}' AND change = '{change}'
GROUP BY key
"""
    return DriftRule(asset, name, description, query)


# WARN, never blocking: the data loads as given (a record breaking a rule of meaning is already
# quarantined). The rows say which keys, since which day, in how many files, and the first one.
DRIFT_RULES = tuple(
    rule
    for asset in ("staging_events", "staging_songs")
    for rule in (
        _drift_rule(
            asset,
            "unknown",
            "new_keys",
            f"No {asset} source record has a key the record contract does not know. A new key "
            "is dropped until the contract maps it: the rows name the key, since which day, "
            "in how many files (load_drift).",
        ),
        _drift_rule(
            asset,
            "missing",
            "missing_keys",
            f"Every {asset} source record has every key of the record contract. The rows name "
            "the key records lacked, since which day, in how many files (load_drift).",
        ),
    )
)

"""load_drift's statements and checks: which source keys each file's records lacked or had
beyond the record contract.

Written in the staging load's transaction and replaced with its partition, like load_rejects and
load_audit (``contract.shape`` counts the keys; the table is declared in ``load_log``).
``report`` reads it back for ``sparkify load``: one row per drifted key, with its file's record
count, to say ``no record has userId (533 records)``.
"""

from __future__ import annotations

from typing import NamedTuple

from psycopg2 import sql

from sparkify_assets.sql.load_log import LOAD_AUDIT, LOAD_DRIFT
from sparkify_assets.sql.render import delete_partition_log, insert_values, table_ref


def delete_drift(schema: str, asset: str, partition: str) -> sql.Composed:
    """Forget a partition's drift before it is loaded again."""
    return delete_partition_log(schema, LOAD_DRIFT.name, asset, partition)


def insert_drift(schema: str, asset: str, partition: str, rows: list, loaded_at: str):
    """load_drift rows (``records.KeyChangeRow``) as one INSERT, for a target without COPY FROM
    STDIN; None when there are none."""
    if not rows:
        return None
    return insert_values(
        schema,
        LOAD_DRIFT.name,
        LOAD_DRIFT.column_names,
        [
            (
                asset,
                partition,
                row.source,
                row.change.key,
                row.change.change,
                row.change.records,
                row.change.first_line,
                loaded_at,
            )
            for row in rows
        ],
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
    ).format(drift=table_ref(schema, LOAD_DRIFT.name), audit=table_ref(schema, LOAD_AUDIT.name))


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

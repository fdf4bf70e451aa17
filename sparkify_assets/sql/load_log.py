"""The load log tables: what each staging load quarantined, what it read from each file, and
which keys of each file drifted from the record contract.

All three are written in the load's own transaction and replaced with its partition.
"""

from __future__ import annotations

from sparkify_assets.sql.model import Column, Table, TableKind


def _load_columns(asset: str, *facts: Column) -> tuple[Column, ...]:
    """The load log tables: which load and file a row is about, its facts, and when it ran."""
    return (
        Column("asset", "VARCHAR(64)", asset, False),
        Column("partition_key", "VARCHAR(32)", "Day for staging_events, '' otherwise", False),
        Column("source", "VARCHAR(1024)", "File path or S3 key"),
        *facts,
        Column("loaded_at", "TIMESTAMP", "When the load ran (UTC)"),
    )


LOAD_REJECTS = Table(
    name="load_rejects",
    description=(
        "Quarantine: every source record that could not be loaded, with where it was and why. "
        "Re-loading a partition replaces its rejects."
    ),
    columns=_load_columns(
        "Staging asset the record was meant for",
        Column("line_number", "INTEGER", "1-based line in the file; a song file is line 1"),
        Column("raw_record", "VARCHAR(65535)", "The record as far as it could be decoded"),
        Column("reason", "VARCHAR(256)", "Why it was rejected"),
    ),
    kind=TableKind.LOG,
    diststyle="EVEN",
    sortkey=("asset", "partition_key"),
)

LOAD_AUDIT = Table(
    name="load_audit",
    description=(
        "Reconciliation: for every source file of the latest load of each staging partition, "
        "records read, rows loaded and records quarantined (records = loaded + rejected). "
        "Written in the load's transaction and replaced with the partition, like load_rejects. "
        "When a partition fails its reject tolerance, loaded is 0: nothing of that load was kept."
    ),
    columns=_load_columns(
        "Staging asset that read the file",
        Column("records", "INTEGER", "Records read (blank lines are not records)", False),
        Column("loaded", "INTEGER", "Rows written to the staging table", False),
        Column("rejected", "INTEGER", "Records written to load_rejects", False),
        Column(
            "fingerprint",
            "VARCHAR(128)",
            "Song files: the ETag, or mtime and size, it was loaded at (a refresh reloads a file "
            "whose fingerprint differs)",
        ),
    ),
    kind=TableKind.LOG,
    diststyle="EVEN",
    sortkey=("asset", "partition_key"),
)

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
    kind=TableKind.LOG,
    diststyle="EVEN",
    sortkey=("asset", "partition_key"),
)

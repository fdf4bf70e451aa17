"""What the Dagster UI shows about a table, derived from its definition in one place.

Definition metadata (schema, column lineage, table name) is known at import. Materialization
metadata is read back from the warehouse after each build, in one transaction: row counts, a
preview of a few rows and, for tables that declare one, the answer of their highlights query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from dagster import (
    MetadataValue,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
)

from sparkify_assets.sql import render
from sparkify_assets.sql.model import Table
from sparkify_assets.warehouse.base import StagingResult, Warehouse

PREVIEW_ROWS = 5
CELL_CHARS = 40  # longer values (user agents, raw records) are cut so the table stays readable
# A wider table would run off the right of the asset page (its metadata column is narrow), so
# its preview shows the first few rows as records instead.
WIDE_COLUMNS = 6
WIDE_PREVIEW_ROWS = 3
SHARE_DIGITS = 4  # 0.2136 reads better than 0.21359223300970873 and plots the same


def column_schema(table: Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(column.name, column.type, description=column.documentation or None)
            for column in table.columns
        ]
    )


def column_lineage(table: Table) -> TableColumnLineage:
    return TableColumnLineage(
        deps_by_column={
            column: [TableColumnDep(asset_key=source, column_name=name) for source, name in deps]
            for column, deps in table.column_lineage.items()
        }
    )


def definition_metadata(table: Table) -> dict:
    metadata = {"dagster/table_name": table.name, "dagster/column_schema": column_schema(table)}
    if table.column_lineage:
        metadata["dagster/column_lineage"] = column_lineage(table)
    return metadata


def describe(table: Table) -> str:
    """The asset description: what a row is and its rules, then its key and partitioning."""
    lines = [table.description, ""]
    if table.primary_key:
        lines.append(
            f"Key: ({', '.join(table.primary_key)}), checked unique and not NULL by the asset "
            "checks."
        )
    if table.window_column:
        lines.append(f"Partitioned by the UTC day of {table.window_column}.")
    return "\n".join(lines).strip()


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):  # the warehouse keeps milliseconds, like the source
        value = value.isoformat(sep=" ", timespec="milliseconds")
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "_no rows_"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def preview_markdown(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """``markdown_table``, or for a table wider than WIDE_COLUMNS its first rows as records (a
    two-column table each), which fit the asset page however narrow it is."""
    if len(columns) <= WIDE_COLUMNS or not rows:
        return markdown_table(columns, rows)
    return "\n\n".join(
        f"**row {number}**\n\n"
        + markdown_table(["column", "value"], list(zip(columns, row, strict=True)))
        for number, row in enumerate(rows[:WIDE_PREVIEW_ROWS], start=1)
    )


def number(value: object) -> MetadataValue:
    """A figure as the metadata type Dagster plots: int, or float for shares and seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return MetadataValue.int(value)
    return MetadataValue.float(float(value))


def staging_figures(results: Sequence[StagingResult], max_reject_share: float) -> dict:
    """What a staging load read, loaded and quarantined, and how long it took, as numbers."""
    read = sum(result.records for result in results)
    rejected = sum(result.rejected for result in results)
    return {
        "records_read": number(read),
        "rows_loaded": number(sum(result.loaded for result in results)),
        "records_rejected": number(rejected),
        "reject_share": number(round(rejected / read, SHARE_DIGITS) if read else 0.0),
        "max_reject_share": number(float(max_reject_share)),
        "load_seconds": number(round(sum(result.seconds for result in results), 3)),
        "drifted_files": number(sum(result.drifted_files for result in results)),
    } | _key_drift(results)


def _key_drift(results: Sequence[StagingResult]) -> dict:
    """The drifted files' lines (keys lacked or unknown, see load_drift), when there are any."""
    lines = [line for result in results for line in result.drift]
    more = sum(result.drifted_files - len(result.drift) for result in results)
    lines += [f"{more} more drifted file(s): see load_drift"] if more else []
    if not lines:
        return {}
    return {"key_drift": MetadataValue.md("\n".join(f"- `{line}`" for line in lines))}


def build_figures(seconds: float) -> dict:
    return {"build_seconds": number(round(seconds, 3))}


def _figures(cursor, table: Table, schema: str, window) -> dict:
    if not table.figures:
        return {}
    names, (row,) = _select(cursor, render.figures(table, schema, window))
    return _figure_values(names, row)


def _figure_values(names, values) -> dict:
    return {
        name: number(value if isinstance(value, int) else round(float(value), SHARE_DIGITS))
        for name, value in zip(names, values, strict=True)
        if value is not None
    }


def _select(cursor, statement) -> tuple[list[str], list[tuple]]:
    cursor.execute(statement)
    return [column[0] for column in cursor.description], cursor.fetchall()


def materialization_metadata(
    warehouse: Warehouse, table: Table, window: tuple[date, date] | None = None
) -> dict:
    """Size, shape, lineage, a preview and the summary of a table as it now is."""
    schema = warehouse.schema_name
    run_days = _days(window) if window and table.window_column else 0  # 0: not partitioned
    with warehouse.transaction() as cursor:
        metadata = {**definition_metadata(table), "dagster/table_name": f"{schema}.{table.name}"}
        if run_days == 1:
            # A day's run reads only its day: counting the whole table would make every run
            # cost as much as the history. Runs of several days (and full loads) count it.
            cursor.execute(warehouse.count_statement(table, window))
            (metadata["dagster/partition_row_count"],) = cursor.fetchone()
        else:
            # A multi-day run's count is no partition's count: record_partition_figures gives
            # each partition its own.
            cursor.execute(warehouse.count_statement(table))
            (metadata["dagster/row_count"],) = cursor.fetchone()
        if run_days <= 1:
            # A multi-day run's partitions each get their own figures (record_partition_figures),
            # which take the place of the run's: computing those too would scan every day again.
            metadata |= _figures(cursor, table, schema, window if table.window_column else None)
        preview = preview_markdown(
            *_select(cursor, render.preview(table, schema, PREVIEW_ROWS, window))
        )
        if run_days > 1:
            preview = (
                f"_First rows of the run's days {run_range(window)}, not of one day:_\n\n{preview}"
            )
        metadata["preview"] = MetadataValue.md(preview)
        if table.highlights:
            highlights = _select(cursor, render.query(table.highlights, schema))
            metadata["highlights"] = MetadataValue.md(markdown_table(*highlights))
    return metadata


def _days(window: tuple[date, date]) -> int:
    return (window[1] - window[0]).days


def run_range(window: tuple[date, date]) -> str:
    """The days of a run's window (end exclusive) as ``first .. last``."""
    return f"{window[0]} .. {window[1] - timedelta(days=1)}"


def record_partition_figures(
    context, warehouse: Warehouse, table: Table, figures: dict[str, dict] | None = None
) -> None:
    """Give every partition of the run its own figures, also in a multi-day (backfill) run.

    Dagster records one materialization per partition of a run, each with the step's metadata;
    what is added here per partition key takes precedence there. Every partition gets its row
    count and the table's own figures (songplays' plays, listeners, ...) for that day, read in
    one query (one scan) for the whole run, and ``figures[day]`` if given (e.g. what staging
    read and loaded that day).
    """
    window = context.partition_time_window
    window = (window.start.date(), window.end.date())
    names = [name for name, _ in table.figures]
    rows = warehouse.query(render.counts_by_day(table, warehouse.schema_name, window))
    by_day = {day: (count, values) for day, count, *values in rows}
    for offset in range(_days(window)):
        day = window[0] + timedelta(days=offset)
        count, values = by_day.get(day, (0, [None] * len(names)))
        context.add_asset_metadata(
            {
                "dagster/partition_row_count": count,
                **_figure_values(names, values),
                **(figures or {}).get(str(day), {}),
            },
            partition_key=day.isoformat(),
        )

"""PostgreSQL staging: each day's DELETE reads that day's pages only, through the BRIN day index."""

from datetime import date

from psycopg2 import sql

from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.sql import render
from sparkify_assets.sql.dialect import POSTGRES
from sparkify_assets.sql.tables import STAGING_EVENTS


def _explain_day_delete(warehouse, day: str) -> str:
    """The executed plan of the staging DELETE for ``day``, rolled back afterwards."""
    set_hint, delete, reset = render.delete_staging_day_by_index(
        STAGING_EVENTS, "public", day, POSTGRES
    )
    connection = warehouse.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(set_hint)
            cursor.execute(sql.SQL("EXPLAIN (ANALYZE, COSTS OFF) ") + delete)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute(reset)
    finally:
        connection.rollback()
        connection.close()
    return plan


def test_a_day_delete_skips_other_days_pages_without_statistics(warehouse, bundled_sample):
    source = LocalSource(bundled_sample)
    files = source.event_files()
    for day in (date(2018, 11, 1), date(2018, 11, 2)):
        warehouse.stage_events_day(source, day, files[day])
    # No ANALYZE has run (statistics come once per asset): the index must be used regardless.
    plan = _explain_day_delete(warehouse, "2018-11-03")
    assert "Bitmap Index Scan on staging_events_event_date_brin" in plan
    assert "Seq Scan" not in plan
    # Every loaded range is summarized, so no heap page of another day is read at all.
    assert "Heap Blocks" not in plan, plan
    # A day that is there is found and deleted through the same index.
    plan = _explain_day_delete(warehouse, "2018-11-02")
    assert "Bitmap Index Scan on staging_events_event_date_brin" in plan
    assert "Heap Blocks" in plan

"""The registry of every warehouse table, in the order the platform creates and builds them."""

from __future__ import annotations

from sparkify_assets.sql.analytics import ANALYTICS_TABLES
from sparkify_assets.sql.load_log import LOAD_DRIFT
from sparkify_assets.sql.model import check_model, check_told
from sparkify_assets.sql.state import PENDING_CHANGES, TABLE_VERSIONS, USER_LATEST_BY_DAY
from sparkify_assets.sql.summaries import SUMMARY_TABLES
from sparkify_assets.sql.tables import (
    ARTISTS,
    LOAD_AUDIT,
    LOAD_REJECTS,
    SONGPLAYS,
    SONGS,
    STAGING_EVENTS,
    STAGING_SONGS,
    TIME,
    USERS,
)

STAGING_TABLES = (STAGING_EVENTS, STAGING_SONGS)
STAR_TABLES = (SONGPLAYS, USERS, SONGS, ARTISTS, TIME)
STATE_TABLES = (USER_LATEST_BY_DAY,)  # built like the star tables, kept for incremental runs
# Filled by SQL from other tables, in run order; each is one asset, in the group named here.
BUILT_GROUPS = (
    ("state", STATE_TABLES),
    ("star", STAR_TABLES),
    ("summary", SUMMARY_TABLES),  # of songplays, for the analytics that would read every play
    ("analytics", ANALYTICS_TABLES),
)
BUILT_TABLES = (*STATE_TABLES, *STAR_TABLES, *SUMMARY_TABLES, *ANALYTICS_TABLES)
ALL_TABLES = (
    *STAGING_TABLES,
    *BUILT_TABLES,
    LOAD_REJECTS,
    LOAD_AUDIT,
    LOAD_DRIFT,
    PENDING_CHANGES,
    TABLE_VERSIONS,  # which definition built each table's rows (sql.fingerprint)
)
TABLES = {table.name: table for table in ALL_TABLES}
check_model(ALL_TABLES)
check_told(ALL_TABLES)

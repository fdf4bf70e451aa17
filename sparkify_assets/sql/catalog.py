"""The registry of every warehouse table, in the order the platform creates and builds them."""

from __future__ import annotations

from sparkify_assets.sql.analytics import ANALYTICS_TABLES
from sparkify_assets.sql.model import check_lineage
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
BUILT_TABLES = (*STAR_TABLES, *ANALYTICS_TABLES)  # filled by SQL from other tables, in run order
ALL_TABLES = (*STAGING_TABLES, *STAR_TABLES, *ANALYTICS_TABLES, LOAD_REJECTS, LOAD_AUDIT)
TABLES = {table.name: table for table in ALL_TABLES}
check_lineage(ALL_TABLES)

"""The warehouse tables as Dagster assets: staging, the star schema, and analytics on top."""

from sparkify_assets.defs.assets.analytics import (
    level_changes,
    plays_by_level,
    plays_by_weekday_hour,
    recent_plays,
    top_artists,
    top_songs,
)
from sparkify_assets.defs.assets.staging import staging_events, staging_songs
from sparkify_assets.defs.assets.star import artists, songplays, songs, time, users

STAGING_ASSETS = [staging_events, staging_songs]
STAR_ASSETS = [songplays, users, songs, artists, time]
ANALYTICS_ASSETS = [
    top_songs,
    top_artists,
    plays_by_weekday_hour,
    plays_by_level,
    level_changes,
    recent_plays,
]
ALL_ASSETS = [*STAGING_ASSETS, *STAR_ASSETS, *ANALYTICS_ASSETS]

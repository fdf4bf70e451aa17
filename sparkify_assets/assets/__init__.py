"""The seven warehouse tables as Dagster assets: two staging tables and the star schema."""

from .staging import staging_events, staging_songs
from .star import artists, songplays, songs, time, users

STAGING_ASSETS = [staging_events, staging_songs]
STAR_ASSETS = [songplays, users, songs, artists, time]
ALL_ASSETS = [*STAGING_ASSETS, *STAR_ASSETS]

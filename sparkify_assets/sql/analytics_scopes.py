"""How the analytics tables narrow a rebuild to what changed (see ``sql.changes``): rankings
by (period, period_start), day-keyed tables by a range of plays first."""

from __future__ import annotations

from sparkify_assets.sql.model import Column, Consumes, Hook, Scope

# The scope's first and last day bound the plays read by a range on start_time, which the
# daily tables' sort key (Redshift) and BRIN index (PostgreSQL) can use; the exact test follows.
PLAYS_NEAR_SCOPE = (
    "p.start_time >= (SELECT MIN({column}) FROM {{scope}}) "
    "AND p.start_time < (SELECT MAX({column}) FROM {{scope}}) + INTERVAL '7 days'"
)


def period_hook(period: str) -> str:
    return (
        PLAYS_NEAR_SCOPE.format(column="period_start")
        + f" AND CAST(DATE_TRUNC('{period}', p.start_time) AS DATE) IN "
        f"(SELECT period_start FROM {{scope}} WHERE period = '{period}')"
    )


def by_period(table: str, consumes: tuple[Consumes, ...], *touched: str) -> Scope:
    """A ranking replaced per (period, period_start): the day and the ISO week of every changed
    day, and the periods that list a song or artist whose details changed (``touched``: SELECTs
    of (period, period_start) over ``t``, this table, joined to the snapshot ``c``)."""
    select = "\nUNION\n".join(
        (
            "SELECT 'day', day FROM {changes} WHERE kind = 'day'",
            "SELECT 'week', CAST(DATE_TRUNC('week', day) AS DATE) FROM {changes} "
            "WHERE kind = 'day'",
            *touched,
        )
    )
    rows = " OR ".join(
        f"(period = '{period}' AND period_start IN "
        f"(SELECT period_start FROM {{scope}} WHERE period = '{period}'))"
        for period in ("day", "week")
    )
    return Scope(
        consumes=consumes,
        columns=(
            Column("period", "VARCHAR(8)", nullable=False),
            Column("period_start", "DATE", nullable=False),
        ),
        select=select,
        rows=rows,
        hooks=(
            Hook("in_day_scope", period_hook("day")),
            Hook("in_week_scope", period_hook("week")),
        ),
    )


def listing(table: str, item: str) -> str:
    return (
        f"SELECT t.period, t.period_start FROM {{{table}}} t "
        f"JOIN {{changes}} c ON c.{item} = t.{item}"
    )


SONG_ARTIST_CHANGED = (
    "SELECT t.period, t.period_start FROM {top_songs} t "
    "JOIN {songs} s ON s.song_id = t.song_id JOIN {changes} c ON c.artist_id = s.artist_id"
)

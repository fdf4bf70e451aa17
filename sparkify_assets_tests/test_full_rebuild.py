"""A full rebuild: songplays' one-sort choice, and the indexes a later daily run relies on.

songplays picks, for each (session, item), one copy of the event by its content and then that
copy's nearest-duration song. The build does both in one window over the plays joined to their
candidate songs; the two-step form it replaced (rank the copies, then rank the chosen copy's
songs) is kept here as the reference, and both run over seeded data full of ties: copies that
differ in one field, songs that share a title and artist name, equal or NULL durations.

On PostgreSQL a full rebuild drops the table's indexes and builds them after the insert; the
table must come out with exactly the indexes (names and definitions) ``ensure_tables`` made. The
primary key rule then asks the catalog for that constraint, and scans only without it.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from psycopg2 import sql
from psycopg2.extras import execute_values

from sparkify_assets.defs.checks import find_violations
from sparkify_assets.sql import catalog, render
from sparkify_assets.sql.checks import RULES, count_and_sample
from sparkify_assets.sql.dialect import POSTGRES
from sparkify_assets.sql.tables import SONGPLAYS, songplay_id

from .conftest import table_rows

DAY = date(2018, 11, 5)

TWO_STEP_SONGPLAYS = f"""
WITH plays AS (
    SELECT e.*,
           ROW_NUMBER() OVER (
               PARTITION BY e.session_id, e.item_in_session
               ORDER BY e.ts, e.user_id, e.level, e.song, e.artist, e.length, e.location,
                        e.user_agent
           ) AS copy_rank
    FROM {{staging_events}} e
    WHERE e.page = 'NextSong' AND e.user_id <> ''
),
matches AS (
    SELECT p.session_id, p.item_in_session, s.song_id, s.artist_id,
           ROW_NUMBER() OVER (
               PARTITION BY p.session_id, p.item_in_session
               ORDER BY ABS(s.duration - p.length), s.song_id, s.artist_id
           ) AS match_rank
    FROM plays p
    JOIN {{staging_songs}} s ON s.title = p.song AND s.artist_name = p.artist
    WHERE p.copy_rank = 1
)
SELECT {songplay_id("p")} AS songplay_id,
       TIMESTAMP 'epoch' + p.ts / 1000.0 * INTERVAL '1 second' AS start_time,
       CAST(p.user_id AS INTEGER) AS user_id,
       p.level, m.song_id, m.artist_id, p.session_id, p.location, p.user_agent
FROM plays p
LEFT JOIN matches m
       ON m.session_id = p.session_id AND m.item_in_session = p.item_in_session
      AND m.match_rank = 1
WHERE p.copy_rank = 1
"""

EVENT_COLUMNS = (
    "session_id", "item_in_session", "ts", "user_id", "level", "song", "artist", "length",
    "location", "user_agent", "page", "event_date",
)  # fmt: skip
SONG_COLUMNS = ("song_id", "artist_id", "title", "artist_name", "duration")


def _tied_data(seed: int) -> tuple[list[tuple], list[tuple]]:
    """Events with up to three copies each, and songs that tie on title, artist and duration.

    Every field a copy or a song can differ in takes one of two or three values, so ties at
    every position of the order are common. song_ids repeat across titles and artist names,
    always with the same artist_id (a tie on duration and song_id then gives the same row).
    """
    rng = random.Random(seed)
    base = int(datetime(2018, 11, 5, 9, tzinfo=UTC).timestamp() * 1000)
    titles, artists = ("Alpha", "Beta", "Gamma"), ("Band A", "Band B")
    songs = []
    for number in range(24):
        duration = rng.choice((200.0, 201.0, 199.0, None))
        song = number % 16  # some song_ids twice, with their own title or artist name
        record = (rng.choice(titles), rng.choice(artists), duration)
        songs.append((f"SO{song:04d}", f"AR{song % 5}", *record))
    events = []
    for session in range(1, 41):
        for item in range(4):
            first = (
                base + rng.randrange(3) * 1000,
                str(rng.choice((5, 6))),
                rng.choice(("free", "paid")),
                rng.choice((*titles, "Unknown")),
                rng.choice(artists),
                rng.choice((200.0, 200.5, None)),
                rng.choice(("Here", "There")),
                rng.choice(("UA1", "UA2")),
            )
            for _ in range(rng.choice((1, 1, 2, 3))):
                copy = list(first)
                changed = rng.randrange(len(copy) + 2)
                if changed == 0:
                    copy[0] = base + rng.randrange(3) * 1000
                elif changed < len(copy):
                    copy[changed] = {
                        1: str(rng.choice((5, 6))),
                        2: rng.choice(("free", "paid")),
                        3: rng.choice(titles),
                        4: rng.choice(artists),
                        5: rng.choice((200.0, 201.5, None)),
                        6: rng.choice(("Here", "There")),
                        7: rng.choice(("UA1", "UA2")),
                    }[changed]
                page = "NextSong" if rng.random() < 0.9 else "Home"
                events.append((session, item, *copy, page, DAY))
    return events, songs


def _stage(warehouse, events: list[tuple], songs: list[tuple]) -> None:
    warehouse.ensure_tables()
    with warehouse.transaction() as cursor:
        for table, columns, rows in (
            ("staging_events", EVENT_COLUMNS, events),
            ("staging_songs", SONG_COLUMNS, songs),
        ):
            cursor.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
            statement = sql.SQL("INSERT INTO {} ({}) VALUES %s").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            execute_values(cursor, statement.as_string(cursor.connection), rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_songplays_one_sort_choice_is_the_two_step_choice(warehouse, seed):
    events, songs = _tied_data(seed)
    _stage(warehouse, events, songs)

    warehouse.build(SONGPLAYS, full=True)

    expected = sorted(warehouse.query(render.statement(TWO_STEP_SONGPLAYS, "public")), key=repr)
    built = table_rows(warehouse, "songplays")
    assert built == expected
    matched = [row for row in built if row[4] is not None]
    assert 0 < len(matched) < len(built)  # the data has plays with and without a song


def _indexes(warehouse) -> dict[str, list[tuple]]:
    rows = warehouse.query(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    tables: dict[str, list[tuple]] = {}
    for table, name, definition in rows:
        tables.setdefault(table, []).append((name, definition))
    return {table: sorted(indexes) for table, indexes in tables.items()}


def test_a_full_rebuild_leaves_the_indexes_ensure_tables_made(warehouse):
    warehouse.ensure_tables()
    created = _indexes(warehouse)
    events, songs = _tied_data(4)
    _stage(warehouse, events, songs)

    for _, tables in catalog.BUILT_GROUPS:
        for table in tables:
            warehouse.build(table, full=True)

    assert _indexes(warehouse) == created
    assert "songplays_start_time_brin" in dict(created["songplays"])
    assert "songplays_pkey" in dict(created["songplays"])


def test_the_primary_key_rule_reads_the_table_only_without_the_constraint(warehouse):
    warehouse.ensure_tables()
    (rule,) = [rule for rule in RULES["songplays"] if rule.name == "primary_key"]
    insert = "INSERT INTO songplays (songplay_id, start_time, user_id, session_id) VALUES "
    with warehouse.transaction() as cursor:
        cursor.execute(insert + "(1, '2018-11-05 09:00', 5, 1), (2, '2018-11-05 10:00', 5, 1)")
        assert find_violations(rule, cursor, "public", dialect=POSTGRES) == (0, [])
        count, _ = count_and_sample(rule, "public", dialect=POSTGRES)
        cursor.execute(sql.SQL("EXPLAIN ANALYZE {}").format(count))
        plan = "\n".join(line for (line,) in cursor.fetchall())
        assert "on songplays" in plan and all(
            "never executed" in line for line in plan.splitlines() if "on songplays" in line
        )

    with warehouse.transaction() as cursor:
        cursor.execute("ALTER TABLE songplays DROP CONSTRAINT songplays_pkey")
        cursor.execute(insert + "(1, '2018-11-06 09:00', 6, 1)")
        # A primary key on other columns does not make the rule's key unique.
        cursor.execute("ALTER TABLE songplays ADD PRIMARY KEY (songplay_id, start_time)")
        postgres = find_violations(rule, cursor, "public", dialect=POSTGRES)
        portable = find_violations(rule, cursor, "public")
    assert postgres == portable == (1, ["1, 2"])

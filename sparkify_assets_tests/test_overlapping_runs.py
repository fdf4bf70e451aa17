"""Overlapping runs: nothing lost, no false alarms (issue 23, docs/concurrency.md).

Runs are the automation's jobs executed in-process, each in its own thread with its own warehouse
object (so its own connections and locks: they race for PostgreSQL's locks as processes do).

The deterministic tests force the interleavings that went wrong, with no sleep: one run's
warehouse stops before it builds a given table (``PausingWarehouse``), another run goes all the
way through meanwhile, then the first goes on. The randomized test starts random sets of 3 to 6
runs at once (days, song refreshes, full refreshes and backfills over ranges, ``sparkify load``)
on small generated histories changed at random in between; after each set, every table must
equal a clean load of the source (``SPARKIFY_OVERLAP_SEEDS`` and ``SPARKIFY_OVERLAP_ROUNDS``
run others; the long variant is marked ``slow``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from dagster import AssetCheckSeverity
from pydantic import PrivateAttr

from sparkify_assets.cli.load import run_load
from sparkify_assets.defs.assets.factory import FULL_REFRESH_TAG
from sparkify_assets.defs.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from sparkify_assets.sql import catalog
from sparkify_assets.sql.analytics_per_user import RECENT_PLAYS
from sparkify_assets.sql.checks import RULES
from sparkify_assets.sql.in_flight import WATCHES
from sparkify_assets.sql.model import check_told
from sparkify_assets.sql.render import to_text
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .histories import (
    DAYS,
    PLAYED,
    SONG_SLOTS,
    Folder,
    day_content,
    day_key,
    song_content,
    song_key,
)
from .test_incremental import Pipeline, assert_same_as_full_load, started

WAIT_SECONDS = 300  # only a safety net: nothing below waits for time to pass


class PausingWarehouse(PostgresWarehouse):
    """A warehouse that stops before building one table, until the test lets it go on."""

    _pause_before: str = PrivateAttr(default="")
    _reached: threading.Event = PrivateAttr(default_factory=threading.Event)
    _go_on: threading.Event = PrivateAttr(default_factory=threading.Event)

    def pause_before(self, table: str) -> PausingWarehouse:
        self._pause_before = table
        return self

    def build(self, table, window=None, full=False):
        if table.name == self._pause_before and not self._go_on.is_set():
            self._reached.set()
            assert self._go_on.wait(WAIT_SECONDS), "the test never let the run go on"
        return super().build(table, window, full)

    def wait_until_paused(self, run) -> None:
        while not self._reached.wait(1):
            assert not run.done(), f"the run ended before it paused: {run.result().success}"

    def go_on(self) -> None:
        self._go_on.set()


def in_thread(warehouse: PostgresWarehouse, folder: Folder, run: str, *args, **kwargs):
    """A run of ``Pipeline`` made, run and disposed in the calling thread (Dagster's ephemeral
    instance keeps SQLite connections, which refuse any other thread)."""
    pipeline = Pipeline(warehouse, folder)
    try:
        return getattr(pipeline, run)(*args, **kwargs)
    finally:
        pipeline.instance.dispose()


def failed_checks(result) -> list[str]:
    return sorted(
        f"{e.asset_key.to_user_string()}.{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == AssetCheckSeverity.ERROR
    )


def busy_day(day: date, every: int) -> bytes:
    """A day file in which user 1 plays a song at the start of every ``every``-th hour."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    events = []
    for hour in range(0, 24, every):
        title, artist, length = PLAYED[hour % len(PLAYED)]
        moment = midnight + timedelta(hours=hour, minutes=1)
        events.append(
            {
                "artist": artist,
                "auth": "Logged In",
                "firstName": "First1",
                "gender": "F",
                "itemInSession": hour,
                "lastName": "Last1-0",
                "length": length,
                "level": "paid",
                "location": "Springfield, IL",
                "method": "PUT",
                "page": "NextSong",
                "registration": 1540919166796.0,
                "sessionId": 9000 + day.day,
                "song": title,
                "status": 200,
                "ts": int(moment.timestamp() * 1000),
                "userAgent": "Mozilla/5.0",
                "userId": "1",
            }
        )
    return b"".join(json.dumps(event).encode() + b"\n" for event in events)


def test_a_run_between_another_runs_plays_and_hours_loses_no_recent_play(
    warehouse, server_home, tmp_path
):
    """The loss: a corrected day's run has replaced the day's songplays (every other hour's play
    withdrawn), not yet its hours; the song sensor's run meanwhile rebuilds recent_plays for the
    user those plays told it about, from the stale hours (twice the plays), so it looks for the
    ten latest plays too late. recent_plays must still end equal to a clean load."""
    pipeline, folder = started(warehouse, tmp_path, days=DAYS[:2])
    folder.write(day_key(DAYS[2]), busy_day(DAYS[2], every=1))
    assert pipeline.load_day(DAYS[2]).success
    folder.write(day_key(DAYS[2]), busy_day(DAYS[2], every=2))
    corrected = PausingWarehouse(url=warehouse.url).pause_before("user_plays_by_hour")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(in_thread, corrected, folder, "load_day", DAYS[2])
        try:
            corrected.wait_until_paused(first)
            assert pipeline.refresh_songs().success
        finally:
            corrected.go_on()
        assert first.result().success
    assert_same_as_full_load(warehouse, server_home, folder)


@pytest.mark.parametrize("paused_before", ["songplays", "time"])
def test_a_check_never_fails_on_a_day_another_run_is_half_way_through(
    paused_before, warehouse, server_home, tmp_path
):
    """The false alarm: a new day's run has loaded the day's staging (and, paused before time,
    its songplays) when the song sensor's run checks songplays for that same day."""
    pipeline, folder = started(warehouse, tmp_path, days=DAYS[:2])
    folder.write(day_key(DAYS[2]), day_content(DAYS[2], 0))
    folder.write(song_key(7), song_content(7, 0))  # matches plays of every day
    day_run = PausingWarehouse(url=warehouse.url).pause_before(paused_before)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(in_thread, day_run, folder, "load_day", DAYS[2])
        try:
            day_run.wait_until_paused(first)
            songs = pipeline._run("refresh_songs", partition_key=DAYS[2].isoformat())
        finally:
            day_run.go_on()
        result = first.result()
        assert failed_checks(songs) == [] and songs.success
        assert failed_checks(result) == [] and result.success
    assert_same_as_full_load(warehouse, server_home, folder)


def test_a_table_that_reads_an_input_it_is_not_told_about_is_refused():
    """What caused the loss, refused at import: recent_plays as it was (told of songplays,
    songs and artists, reading user_plays_by_hour too)."""
    scope = RECENT_PLAYS.scope
    consumes = tuple(c for c in scope.consumes if c.producer != "user_plays_by_hour")
    as_it_was = dataclasses.replace(
        RECENT_PLAYS, scope=dataclasses.replace(scope, consumes=consumes)
    )
    tables = [as_it_was if t is RECENT_PLAYS else t for t in catalog.ALL_TABLES]
    with pytest.raises(ValueError, match="recent_plays reads user_plays_by_hour"):
        check_told(tables)
    check_told(catalog.ALL_TABLES)


def test_every_rule_across_transactions_says_what_it_must_not_judge_yet():
    """A rule that joins tables written by different transactions must name what makes them
    disagree while another run is half-way (staging and its audit are one transaction)."""
    one_transaction = {"load_audit", "load_rejects"}
    unwatched = []
    for rules in RULES.values():
        for rule in rules:
            text = to_text(rule.violations("public"))
            read = {name for name in catalog.TABLES if f'"public"."{name}"' in text}
            if len(read - one_transaction) > 1 and (rule.table, rule.name) not in WATCHES:
                unwatched.append(rule.name)
    assert unwatched == []
    assert all(name in catalog.TABLES for w in WATCHES.values() for name in w.days + w.behind)


# --- random sets of overlapping runs ------------------------------------------------------------


class Runs:
    """The jobs the schedule, the sensors and an operator start, each on its own warehouse."""

    def __init__(self, url: str, folder: Folder):
        self.url, self.folder = url, folder

    def _run(self, run: str, *args, **kwargs) -> bool:
        warehouse = PostgresWarehouse(url=self.url)
        return in_thread(warehouse, self.folder, run, *args, **kwargs).success

    def load_day(self, day: date) -> bool:
        return self._run("load_day", day)

    def refresh_songs(self) -> bool:
        return self._run("refresh_songs")

    def over_range(self, job: str, first: date, last: date) -> bool:
        tags = {
            ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
        }
        if job == "full_refresh":
            tags[FULL_REFRESH_TAG] = "all"
        job_name = "full_refresh" if job == "full_refresh" else "load_everything"
        return self._run("_run", job_name, tags=tags)

    def sparkify_load(self) -> bool:
        pipeline = Pipeline(PostgresWarehouse(url=self.url), self.folder)
        try:
            return run_load(pipeline.defs, str(self.folder.root)).success
        finally:
            pipeline.instance.dispose()


def _change_source(rng: random.Random, folder: Folder) -> tuple[set[date], bool]:
    """One to three random changes; the days and whether the songs changed."""
    days, songs = set(), False
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            day = rng.choice(DAYS)
            if rng.random() < 0.15 and len(folder.days()) > 2:
                folder.delete(day_key(day))
            else:
                folder.write(day_key(day), day_content(day, rng.randrange(3)))
            days.add(day)
        else:
            slot = rng.randrange(len(SONG_SLOTS))
            if rng.random() < 0.25:
                folder.delete(song_key(slot))
            else:
                folder.write(song_key(slot), song_content(slot, rng.randrange(3)))
            songs = True
    return days, songs


def _runs_for(rng: random.Random, runs: Runs, days: set[date], songs: bool) -> list:
    """3 to 6 runs that together take in the changes: one for each, then any others."""

    def day_run(day):
        return (f"load_day {day}", lambda: runs.load_day(day))

    def range_run(job):
        first, last = sorted(rng.sample(DAYS, 2))
        return (f"{job} {first}..{last}", lambda: runs.over_range(job, first, last))

    chosen = [day_run(day) for day in sorted(days)]
    if songs:
        chosen.append(("refresh_songs", runs.refresh_songs))
    others = [
        lambda: day_run(rng.choice(sorted(days) or DAYS)),  # the same day again, or any
        lambda: day_run(rng.choice(DAYS)),
        lambda: ("refresh_songs", runs.refresh_songs),
        lambda: range_run("full_refresh"),
        lambda: range_run("backfill"),
        lambda: ("sparkify load", runs.sparkify_load),
    ]
    while len(chosen) < 3 or (len(chosen) < 6 and rng.random() < 0.5):
        chosen.append(rng.choice(others)())
    rng.shuffle(chosen)
    return chosen[:6]


def _at_once(chosen: list) -> dict[str, bool]:
    """Every run started together; each run's success."""
    start = threading.Barrier(len(chosen))

    def run(job):
        start.wait(WAIT_SECONDS)
        return job()

    with ThreadPoolExecutor(len(chosen)) as pool:
        futures = [(name, pool.submit(run, job)) for name, job in chosen]
        return {f"{index}: {name}": f.result() for index, (name, f) in enumerate(futures)}


SEEDS = [int(s) for s in os.environ.get("SPARKIFY_OVERLAP_SEEDS", "7").split(",")]
ROUNDS = int(os.environ.get("SPARKIFY_OVERLAP_ROUNDS", "2"))


def overlapping_rounds(seed: int, rounds: int, warehouse, server_home, tmp_path) -> None:
    rng = random.Random(seed)
    _, folder = started(warehouse, tmp_path, days=sorted(rng.sample(DAYS, 3)))
    runs = Runs(warehouse.url, folder)
    history = []
    for _ in range(rounds):
        days, songs = _change_source(rng, folder)
        chosen = _runs_for(rng, runs, days, songs)
        outcome = _at_once(chosen)
        history.append(outcome)
        assert all(outcome.values()), history
        assert_same_as_full_load(warehouse, server_home, folder)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_overlapping_runs_equal_a_clean_load(seed, warehouse, server_home, tmp_path):
    overlapping_rounds(seed, ROUNDS, warehouse, server_home, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 102, 103])
def test_random_overlapping_runs_equal_a_clean_load_long(seed, warehouse, server_home, tmp_path):
    overlapping_rounds(seed, 3, warehouse, server_home, tmp_path)

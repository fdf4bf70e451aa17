"""Automation: the daily schedule and the two sensors that react to new files.

What runs when (each run leaves the star schema and the analytics consistent with staging):

- ``load_yesterday`` (schedule, 01:00 UTC) runs ``load_day`` for yesterday's partition:
  staging_events, user_latest_by_day, songplays and time for that day, then users and the
  analytics for what that day changed (``sql.changes``). Never songs or artists.
- ``log_files_sensor`` watches ``log_data/``; a new or changed day file runs ``load_day`` for
  that day, and a deleted one runs it with ``clear_missing_days``, which empties the day. A
  late, corrected or removed file is therefore handled without waiting for anyone.
- ``song_files_sensor`` watches ``song_data/``; any new, changed or deleted song file runs
  ``refresh_songs``: staging_songs loads only the files whose fingerprint changed and drops the
  removed ones; songs and artists are rebuilt for their keys, and only the plays with those
  titles and artist names are re-matched, on any day; then the analytics they reach.

Explicit jobs, not declarative automation: the unpartitioned tables catch up on the changes
pending for them, so putting them in the same run as the change gives one run per change that
leaves a consistent schema, instead of eager conditions firing separate runs afterwards.

Why not dagster-aws's ``get_objects(since_key=...)``: it keeps only the newest LastModified, so
a second object written in the same second is skipped for good, and it breaks when the object
it remembers is deleted. The log sensor's cursor is instead the whole map of day file ->
fingerprint (the ETag in S3, mtime and size on disk), so nothing depends on timestamps being
ordered or unique, and a deleted file stays in it as a tombstone. Day files are one a day, so
the map stays small; it is stored compressed. Song files are too many for a map (385k), so that
sensor keeps a digest of the full listing instead.

Run keys are the day and its files' ETags (or the listing digest), plus a digest of the state
they replace: a tick retried after a crash repeats its keys and Dagster drops the duplicates,
while a file changed back to an earlier content still gets a run.
"""

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from dagster import (
    AssetKey,
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from sparkify_assets.contract.layout import day_of
from sparkify_assets.defs.resources import SparkifySource
from sparkify_assets.ingest.base import Source

LOG_SENSOR_SECONDS = 120
SONG_SENSOR_SECONDS = 600  # a full song_data listing is ~400 requests per 385k files
MAX_DAYS_PER_TICK = 31  # a long history arrives as a month of runs per tick, not thousands
CURSOR_VERSION = "v1:"
TRIGGER_TAG = "sparkify/trigger"
TOMBSTONE = "deleted:"  # cursor value of a day file that was deleted
# A deleted day file's run: the day is emptied instead of failing for want of a file.
STAGING_EVENTS = AssetKey("staging_events")
STAGING_SONGS = AssetKey("staging_songs")
CLEAR_MISSING_DAY = {"ops": {"staging_events": {"config": {"clear_missing_days": True}}}}

# --- jobs and schedule ------------------------------------------------------------------------

load_day = define_asset_job(
    "load_day",
    # Everything but the song files: what a day's events reach, and the dimensions and
    # analytics rebuilt whole from staging, so the run leaves every table consistent.
    # Everything a day's events reach; no event can change a song or an artist.
    selection=AssetSelection.all() - AssetSelection.assets(STAGING_SONGS, "songs", "artists"),
    description="One day's staging, songplays and time, then users and analytics for that day.",
)

refresh_songs = define_asset_job(
    "refresh_songs",
    # A song changes no play's time, user or level: what only those feed is left out.
    selection=AssetSelection.assets(STAGING_SONGS).downstream()
    - AssetSelection.assets("time", "user_plays_by_hour").downstream()
    | AssetSelection.assets("recent_plays"),
    description="Changed song files reloaded; their songs, artists, plays and analytics.",
)


@schedule(
    job=load_day,
    name="load_yesterday",
    cron_schedule="0 1 * * *",  # an hour of slack for the day file to land
    execution_timezone="UTC",
    description="Every day at 01:00 UTC: yesterday's partition and the dimensions.",
)
def load_yesterday(context: ScheduleEvaluationContext):
    # Yesterday, not "the last partition": when the partitions end with a folder's data
    # (SPARKIFY_LAST_DAY), a tick after that day has nothing to load, rather than the last day
    # again and again.
    yesterday = context.scheduled_execution_time.astimezone(UTC).date() - timedelta(1)
    bounds = partition_bounds(context)
    if bounds is None or not bounds[0] <= yesterday <= bounds[1]:
        return SkipReason(
            f"yesterday ({yesterday}) is not a daily partition "
            f"({' .. '.join(map(str, bounds)) if bounds else 'none yet'}; SPARKIFY_FIRST_DAY, "
            "SPARKIFY_LAST_DAY)"
        )
    return RunRequest(partition_key=yesterday.isoformat())


# --- the log_data cursor ----------------------------------------------------------------------


def encode_cursor(seen: dict[str, str]) -> str:
    payload = json.dumps(seen, sort_keys=True, separators=(",", ":")).encode()
    return CURSOR_VERSION + base64.urlsafe_b64encode(zlib.compress(payload, 9)).decode()


def decode_cursor(cursor: str | None) -> dict[str, str] | None:
    """The seen day files (key -> fingerprint), or None when there is no usable cursor."""
    if not cursor or not cursor.startswith(CURSOR_VERSION):
        return None
    try:
        payload = zlib.decompress(base64.urlsafe_b64decode(cursor[len(CURSOR_VERSION) :]))
        seen = json.loads(payload)
    except (ValueError, zlib.error):
        return None
    return seen if isinstance(seen, dict) else None


def by_day(files: dict[str, str]) -> dict[date, dict[str, str]]:
    days: dict[date, dict[str, str]] = {}
    for key, fingerprint in files.items():
        day = day_of(key.rsplit("/", 1)[-1])
        if day is not None:
            days.setdefault(day, {})[key] = fingerprint
    return days


def listed_day_files(source: Source) -> dict[date, dict[str, str]]:
    return {
        day: {file.key: file.fingerprint for file in files}
        for day, files in source.event_files().items()
    }


def short_digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def with_previous(run_key: str, previous: object) -> str:
    """A run key that also names the state it replaces. A retried tick repeats the key (Dagster
    drops the duplicate run), while every real change gets a new one, even a change back to
    an earlier content (A, then B, then A again)."""
    return f"{run_key}:was:{short_digest(previous)}" if previous else run_key


def day_run_key(day: date, files: dict[str, str], before: dict[str, str]) -> str:
    etags = "+".join(files[key] for key in sorted(files))
    return with_previous(f"{day.isoformat()}:{etags}", before)


def tombstone(fingerprint: str) -> str:
    return fingerprint if is_tombstone(fingerprint) else TOMBSTONE + fingerprint


def is_tombstone(fingerprint: str) -> bool:
    return fingerprint.startswith(TOMBSTONE)


@dataclass
class DayPlan:
    """What one tick of the log sensor does, decided from the listing and the cursor."""

    load: list[date] = field(default_factory=list)
    deferred: list[date] = field(default_factory=list)  # changed, but not loadable yet
    before_start: list[date] = field(default_factory=list)
    emptied: list[date] = field(default_factory=list)  # every file of the day was deleted
    cursor: dict[str, str] = field(default_factory=dict)


def plan_days(
    current: dict[date, dict[str, str]],
    seen: dict[date, dict[str, str]],
    first: date,
    last: date,
    limit: int,
) -> DayPlan:
    """Which days to load, given the partitions that exist (``first``..``last``).

    A deferred day keeps its old cursor entries, so it stays "changed" until it is loaded.
    """
    plan = DayPlan()
    for day in sorted(current.keys() | seen.keys()):
        files, before = current.get(day, {}), seen.get(day, {})
        keep = files
        if files != before:
            if not files:
                # Keep a tombstone, not nothing: the rows stay loaded, so putting the same file
                # back is a change to reload (its run key names the tombstone, not a repeat).
                if not all(map(is_tombstone, before.values())):
                    plan.emptied.append(day)
                keep = {key: tombstone(fingerprint) for key, fingerprint in before.items()}
            elif day < first:
                plan.before_start.append(day)
            elif day > last or len(plan.load) >= limit:
                plan.deferred.append(day)
                keep = before
            else:
                plan.load.append(day)
        plan.cursor.update(keep)
    return plan


def materialized_days(context: SensorEvaluationContext, asset: AssetKey) -> set[str]:
    return context.instance.get_materialized_partitions(asset)


def partition_bounds(
    context: ScheduleEvaluationContext | SensorEvaluationContext,
) -> tuple[date, date] | None:
    """The first and last daily partition of the code location the tick belongs to, or None."""
    daily = context.repository_def.get_job(load_day.name).partitions_def
    first, last = daily.get_first_partition_key(), daily.get_last_partition_key()
    if first is None or last is None:
        return None
    return date.fromisoformat(first), date.fromisoformat(last)


def _log_plan(context: SensorEvaluationContext, plan: DayPlan) -> None:
    if plan.emptied:
        context.log.warning(
            f"log files deleted for {', '.join(map(str, plan.emptied))}: those days are emptied"
        )
    if plan.before_start:
        context.log.warning(
            f"log files for {', '.join(map(str, plan.before_start))} are before "
            "SPARKIFY_FIRST_DAY and are not loaded"
        )
    if plan.deferred:
        context.log.info(f"{len(plan.deferred)} changed day(s) left for a later tick")


@sensor(
    job=load_day,
    minimum_interval_seconds=LOG_SENSOR_SECONDS,
    description="A new or changed log_data/ day file loads that day (run key: day + ETag).",
)
def log_files_sensor(context: SensorEvaluationContext, source: SparkifySource):
    current = listed_day_files(source.open())
    seen = decode_cursor(context.cursor)
    if seen is None:
        # First tick (or an unreadable cursor): days Dagster already has are the baseline, the
        # rest is new. Run keys make a repeated request for an unchanged file a no-op anyway.
        loaded = materialized_days(context, STAGING_EVENTS)
        seen = {
            key: fingerprint
            for day, files in current.items()
            if day.isoformat() in loaded
            for key, fingerprint in files.items()
        }
    bounds = partition_bounds(context)
    if bounds is None:
        return SkipReason("no daily partition exists yet (SPARKIFY_FIRST_DAY is in the future)")
    seen_days = by_day(seen)
    plan = plan_days(current, seen_days, *bounds, limit=MAX_DAYS_PER_TICK)
    _log_plan(context, plan)
    requests = [
        RunRequest(
            run_key=day_run_key(day, current[day], seen_days.get(day, {})),
            partition_key=day.isoformat(),
            tags={TRIGGER_TAG: "log_data"},
        )
        for day in plan.load
    ] + [
        RunRequest(
            run_key=with_previous(f"{day.isoformat()}:deleted", seen_days.get(day, {})),
            partition_key=day.isoformat(),
            tags={TRIGGER_TAG: "log_data"},
            run_config=CLEAR_MISSING_DAY,
        )
        for day in plan.emptied
        if bounds[0] <= day <= bounds[1]
    ]
    skip = None if requests else f"no new or changed day file among {len(current)} day(s)"
    return SensorResult(run_requests=requests, skip_reason=skip, cursor=encode_cursor(plan.cursor))


# --- song_data --------------------------------------------------------------------------------


def song_listing(source: Source) -> str:
    """``count:digest`` of every song file's key and fingerprint, in one streamed pass."""
    digest = hashlib.sha256()
    count = 0
    for file in source.song_files():
        digest.update(f"{file.key}\t{file.fingerprint}\n".encode())
        count += 1
    return f"{count}:{digest.hexdigest()[:32]}"


def songs_run_request(listing: str, previous: str | None, days: list[date]) -> RunRequest:
    """Load the changed song files and re-match the plays they reach, in one run.

    The run is launched for the latest day because songplays is partitioned; it re-matches
    plays on any day and rebuilds none.
    """
    run_key = with_previous(f"songs:{listing}", previous)
    tags = {TRIGGER_TAG: "song_data"}
    if not days:
        keys = [STAGING_SONGS, AssetKey("songs"), AssetKey("artists")]
        return RunRequest(run_key=run_key, asset_selection=keys, tags=tags)
    return RunRequest(run_key=run_key, partition_key=max(days).isoformat(), tags=tags)


@sensor(
    job=refresh_songs,
    minimum_interval_seconds=SONG_SENSOR_SECONDS,
    description="Any change under song_data/ reloads staging_songs and what depends on it.",
)
def song_files_sensor(context: SensorEvaluationContext, source: SparkifySource):
    raw = source.open()
    listing = song_listing(raw)
    if listing == context.cursor:
        return SkipReason(f"song_data unchanged ({listing.split(':')[0]} files)")
    if context.cursor is None and context.instance.get_latest_materialization_event(STAGING_SONGS):
        # First tick after songs were loaded some other way: that load is the baseline.
        return SensorResult(skip_reason="song_data taken as the baseline", cursor=listing)
    bounds = partition_bounds(context)
    days = [day for day in raw.event_files() if bounds and bounds[0] <= day <= bounds[1]]
    request = songs_run_request(listing, context.cursor, days)
    return SensorResult(run_requests=[request], cursor=listing)


AUTOMATION_JOBS = [load_day, refresh_songs]
AUTOMATION_SCHEDULES = [load_yesterday]
AUTOMATION_SENSORS = [log_files_sensor, song_files_sensor]

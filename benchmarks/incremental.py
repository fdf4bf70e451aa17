"""What an incremental run costs as history grows: the scheduled day's run and a song refresh.

    python benchmarks/incremental.py                       # 3,000 events a day, 91 days
    python benchmarks/incremental.py --events-per-day 10000 --repeat 5

For each history size (1, 30 and 90 days already loaded, by ``sparkify load``'s code path into a
brand-new database) it times, in-process as the schedule and the sensor run them:

- the scheduled day's run: ``load_day`` for the next day (staging, user_latest_by_day,
  songplays and time for that day, users and analytics for what it changed, and the asset
  checks of the run), repeated as the schedule runs it: each repetition loads the day after
  the previous one. Generated days differ in size (0.4x to 1.6x the mean), so every measured
  day is the same day's events (the day after the longest history) moved to its date, with its
  own session ids: each history is timed on the same work;
- a one-song refresh (1 and 30 days): one song file changed (its duration, alternately), then
  ``refresh_songs`` (that file reloaded, its song and artist, the plays of its title re-matched).

Prints every run, the medians and the ratios to the 1-day history. Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("DAGSTER_HOME", "")  # an ephemeral instance per run
os.environ.pop("DAGSTER_HOME")
# The daily partitions are read from the settings when the definitions are imported, and the
# generated histories run past the bundled sample's last day.
os.environ.setdefault("SPARKIFY_LAST_DAY", "2019-12-31")

from dagster import DagsterInstance  # noqa: E402

from sparkify_assets.cli.load import run_load  # noqa: E402
from sparkify_assets.contract.layout import day_file_key  # noqa: E402
from sparkify_assets.defs.location import build_definitions  # noqa: E402
from sparkify_assets.defs.resources import SparkifySource  # noqa: E402
from sparkify_assets.synthetic.generate import generate  # noqa: E402
from sparkify_assets.warehouse import embedded  # noqa: E402
from sparkify_assets.warehouse.postgres import PostgresWarehouse  # noqa: E402

FIRST_DAY = date(2018, 11, 1)
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def history_folder(data: Path, work: Path, days: int) -> Path:
    """A source with the first ``days`` day files (links) and its own copy of song_data/."""
    folder = work / f"history-{days}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(data / "song_data", folder / "song_data")
    for offset in range(days):
        key = day_file_key(FIRST_DAY + timedelta(days=offset))
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).symlink_to(data / key)
    return folder


SESSIONS_PER_MEASURED_DAY = 1_000_000  # above any generated session id


def add_measured_day(template: Path, folder: Path, template_day: date, day: date) -> None:
    """The template day's events moved to ``day``: times shifted by whole days, session ids
    moved to a range of their own so no play id repeats another day's."""
    shift_ms = (day - template_day).days * 86_400_000
    sessions = (day - FIRST_DAY).days * SESSIONS_PER_MEASURED_DAY
    target = folder / day_file_key(day)
    target.parent.mkdir(parents=True, exist_ok=True)
    with template.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        for line in lines:
            event = json.loads(line)
            event["ts"] += shift_ms
            event["sessionId"] += sessions
            out.write(json.dumps(event) + "\n")


STEPS: dict[int, dict[str, list[float]]] = {}  # days loaded -> step -> seconds of day runs


def timed(job, steps: dict[str, list[float]] | None = None, **kwargs) -> float:
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False, **kwargs
        )
        seconds = time.perf_counter() - started
        if not result.success:
            raise SystemExit(f"{job.name} failed: see the run (or run with the console logger)")
        for stat in instance.get_run_step_stats(result.run_id) if steps is not None else ():
            if stat.start_time and stat.end_time:
                steps.setdefault(stat.step_key, []).append(stat.end_time - stat.start_time)
    return seconds


def print_growing_steps(histories: list[int], top: int = 8) -> None:
    """The day run's steps whose median changed most from the smallest to the largest history."""
    first, last = STEPS[histories[0]], STEPS[histories[-1]]
    growth = {
        step: statistics.median(last[step]) - statistics.median(first.get(step, [0.0]))
        for step in last
    }
    print(f"\nday-run steps that grew most, {histories[0]} -> {histories[-1]} days (seconds)")
    for step, grew in sorted(growth.items(), key=lambda item: -abs(item[1]))[:top]:
        print(
            f"  {step:<40} {statistics.median(first.get(step, [0.0])):6.2f} -> "
            f"{statistics.median(last[step]):6.2f}  ({grew:+.2f})"
        )


def change_one_song(folder: Path, repetition: int) -> None:
    song = min((folder / "song_data").rglob("*.json"))
    record = json.loads(song.read_text())
    record["duration"] = round(float(record["duration"] or 0) + (1 if repetition % 2 else -1), 5)
    song.write_text(json.dumps(record))


def measure(args, data: Path, work: Path, days: int) -> dict[str, list[float]]:
    folder = history_folder(data, work, days)
    warehouse = PostgresWarehouse(url=embedded.ensure_running(work / "home", f"history_{days}"))
    with warehouse.transaction() as cursor:  # a brand-new database each time
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    defs = build_definitions({"warehouse": warehouse, "source": SparkifySource(uri=str(folder))})
    started = time.perf_counter()
    assert run_load(defs, str(folder)).success
    print(f"  {days} day(s) loaded in {time.perf_counter() - started:.1f} s")
    load_day, refresh = defs.resolve_job_def("load_day"), defs.resolve_job_def("refresh_songs")
    figures: dict[str, list[float]] = {"day": [], "song": []}
    template_day = FIRST_DAY + timedelta(days=args.template_offset)
    template = data / day_file_key(template_day)
    for repetition in range(args.repeat):
        next_day = FIRST_DAY + timedelta(days=days + repetition)
        add_measured_day(template, folder, template_day, next_day)
        steps = STEPS.setdefault(days, {})
        figures["day"].append(timed(load_day, steps, partition_key=next_day.isoformat()))
        if days in args.song_histories:
            change_one_song(folder, repetition)
            figures["song"].append(timed(refresh, partition_key=next_day.isoformat()))
    for name, values in figures.items():
        if values:
            print(f"  {name}: " + ", ".join(f"{v:.2f}" for v in values))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=3000)
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--histories", default="1,30,90", help="days already loaded")
    parser.add_argument("--song-histories", default="1,30", help="histories for song refreshes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", default=str(Path(__file__).parent / "out" / "incremental"))
    args = parser.parse_args()
    histories = [int(n) for n in args.histories.split(",")]
    args.song_histories = {int(n) for n in args.song_histories.split(",")}
    work = Path(args.work)
    days = max(histories) + 1  # the last generated day is the template of the measured days
    args.template_offset = max(histories)
    data = work / f"data-{args.events_per_day}-{args.songs}-{days}"
    if not (data / "log_data").is_dir():
        generate(data, events=args.events_per_day * days, songs=args.songs, days=days, seed=1)
    results = {}
    for days in histories:
        print(f"history of {days} day(s):")
        results[days] = measure(args, data, work, days)
    base = histories[0]
    print(f"\nmedians (seconds), {args.events_per_day:,} events a day, {args.repeat} repetitions")
    print(f"{'days loaded':>12} {'day run':>9} {'ratio':>6} {'song refresh':>13} {'ratio':>6}")
    for days in histories:
        day = statistics.median(results[days]["day"])
        line = f"{days:>12} {day:>9.2f} {day / statistics.median(results[base]['day']):>6.2f}"
        if results[days]["song"]:
            song = statistics.median(results[days]["song"])
            line += f" {song:>13.2f} {song / statistics.median(results[base]['song']):>6.2f}"
        print(line)
    print(f"(1-min load average {os.getloadavg()[0]:.1f})")
    print_growing_steps(histories)


if __name__ == "__main__":
    main()

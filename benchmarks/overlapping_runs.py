"""Issue 23: five jobs at once on a changed source, then every table against a clean load.

    python benchmarks/overlapping_runs.py                 # one try
    python benchmarks/overlapping_runs.py --tries 10      # ten tries in a row

A warehouse is loaded by ``sparkify load`` (the CLI, in its own process) with 120,000 generated
events over 12 days. Then the source changes as a week of real operation changes it:

- two day files are corrected: every 20th line withdrawn, and one user's level flipped;
- a new day lands (a 13th generated day);
- a new song file matches plays that matched nothing before;
- a song file that plays matched is deleted.

Each try copies the loaded warehouse (``CREATE DATABASE ... TEMPLATE``) and starts, at once and
as separate processes, the jobs the schedule and the sensors launch for those changes:
``load_day`` for the new day twice (schedule and log sensor), ``load_day`` for each corrected day,
and ``refresh_songs`` with the last day as its partition (the song sensor's request). When all
have ended, every table is compared row for row (all columns but ``loaded_at``) with a clean
``sparkify load`` of the changed source into a brand-new database. It prints each run's outcome
(failed steps and failed checks) and each table that differs; it exits 1 if any try had a failed
run or a differing table. Figures and outcomes, not a test (the tests are in
``test_overlapping_runs.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIRST_DAY = date(2018, 11, 1)
DAYS = 12
NEW_DAY = FIRST_DAY + timedelta(days=DAYS)
CORRECTED = (FIRST_DAY + timedelta(days=3), FIRST_DAY + timedelta(days=8))
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _env(work: Path) -> dict[str, str]:
    """Every process sees the same partitions (up to the new day) and its own Dagster home."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SPARKIFY_FIRST_DAY": FIRST_DAY.isoformat(),
        "SPARKIFY_LAST_DAY": NEW_DAY.isoformat(),
        "DAGSTER_HOME": str(work / "dagster_home"),
    }


# --- the source and its changes -------------------------------------------------------------


def _day_file(root: Path, day: date) -> Path:
    return root / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day.isoformat()}-events.json"


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_events(path: Path, events: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(event, separators=(",", ":")) for event in events))


def _song_records(root: Path) -> dict[Path, dict]:
    return {path: json.loads(path.read_text()) for path in (root / "song_data").rglob("*.json")}


def correct_day(root: Path, day: date) -> str:
    """Withdraw every 20th line and flip one user's level on all their lines of the day."""
    path = _day_file(root, day)
    events = _events(path)
    users = Counter(e["userId"] for e in events if e["userId"] and e["page"] == "NextSong")
    user = users.most_common(1)[0][0]
    flip = {"free": "paid", "paid": "free"}
    kept = [
        event
        | ({"level": flip.get(event["level"], event["level"])} if event["userId"] == user else {})
        for index, event in enumerate(events)
        if index % 20 != 7
    ]
    _write_events(path, kept)
    return f"{day}: {len(events) - len(kept)} lines withdrawn, user {user}'s level flipped"


def _played_pairs(root: Path) -> Counter:
    return Counter(
        (event["song"], event["artist"], event["length"])
        for path in (root / "log_data").rglob("*.json")
        for event in _events(path)
        if event["page"] == "NextSong" and event["userId"]
    )


def add_matching_song(root: Path) -> str:
    """A song file for the most played (title, artist) that no song file has yet."""
    known = {(r["title"], r["artist_name"]) for r in _song_records(root).values()}
    plays = _played_pairs(root)
    unmatched = [
        (count, pair)
        for pair, count in plays.items()
        if pair[:2] not in known and pair[0].isascii()
    ]
    count, (title, artist, length) = max(unmatched, key=lambda item: (item[0], item[1]))
    record = {
        "num_songs": 1,
        "artist_id": "ARNEWOVERLAP0001",
        "artist_latitude": None,
        "artist_longitude": None,
        "artist_location": "",
        "artist_name": artist,
        "song_id": "SONEWOVERLAP0001",
        "title": title,
        "duration": length,
        "year": 2018,
    }
    path = root / "song_data" / "Z" / "Z" / "Z" / "TRZZZNEWOVERLAP01.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return f"new song file {path.name}: {title!r} by {artist!r}, matching {count} plays"


def delete_matched_song(root: Path) -> str:
    """Delete the song file whose (title, artist) the most plays name."""
    plays = Counter()
    for (title, artist, _), count in _played_pairs(root).items():
        plays[(title, artist)] += count
    records = _song_records(root)
    path = max(records, key=lambda p: (plays[(records[p]["title"], records[p]["artist_name"])], p))
    path.unlink()
    return f"song file {path.name} deleted ({records[path]['title']!r})"


def prepare(work: Path, events: int, songs: int, seed: int) -> tuple[Path, Path, list[str]]:
    """The loaded source (12 days) and the changed one; what changed."""
    from sparkify_assets.synthetic.generate import generate

    data = work / f"data-{events}-{songs}-{seed}"
    if not (data / "log_data").is_dir():
        # One day more than loaded: the 13th is the day that lands later.
        generate(data, events=events * (DAYS + 1) // DAYS, songs=songs, days=DAYS + 1, seed=seed)
    loaded, changed = work / "loaded", work / "changed"
    for folder in (loaded, changed):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(data, folder)
    _day_file(loaded, NEW_DAY).unlink()
    notes = [correct_day(changed, day) for day in CORRECTED]
    notes.append(f"{NEW_DAY}: a new day file")
    notes += [add_matching_song(changed), delete_matched_song(changed)]
    return loaded, changed, notes


# --- runs ---------------------------------------------------------------------------------------


def sparkify_load(work: Path, url: str, root: Path) -> None:
    environment = _env(work) | {"SPARKIFY_WAREHOUSE_URL": url, "SPARKIFY_DATA_URI": str(root)}
    command = [sys.executable, "-m", "sparkify_assets.cli", "load", "--quiet"]
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"sparkify load failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def the_five_runs() -> list[tuple[str, str, str]]:
    """(name, job, partition) of each run the changes launch."""
    new = NEW_DAY.isoformat()
    return [
        ("schedule: load_day", "load_day", new),
        ("log sensor: load_day", "load_day", new),
        *(("log sensor: load_day", "load_day", day.isoformat()) for day in CORRECTED),
        ("song sensor: refresh_songs", "refresh_songs", new),
    ]


def child(job: str, partition: str, url: str, root: str) -> None:
    """One run, as the daemon launches it: the job over its partition, in this process."""
    from dagster import AssetCheckSeverity, DagsterInstance

    from sparkify_assets.defs.location import build_definitions
    from sparkify_assets.defs.resources import SparkifySource
    from sparkify_assets.warehouse.postgres import PostgresWarehouse

    defs = build_definitions(
        {"warehouse": PostgresWarehouse(url=url), "source": SparkifySource(uri=root)}
    )
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(job).execute_in_process(
            partition_key=partition, instance=instance, run_config=QUIET, raise_on_error=False
        )
    failed_checks = sorted(
        f"{e.asset_key.to_user_string()}.{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == AssetCheckSeverity.ERROR
    )
    failed_steps = sorted(
        event.step_key for event in result.all_events if event.is_step_failure and event.step_key
    )
    print(json.dumps({"success": result.success, "checks": failed_checks, "steps": failed_steps}))


def run_at_once(work: Path, url: str, root: Path) -> list[dict]:
    runs = the_five_runs()
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", job, partition, url, str(root)],
            env=_env(work),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _, job, partition in runs
    ]
    outcomes = []
    for (name, _job, partition), process in zip(runs, processes, strict=True):
        out, err = process.communicate()
        lines = out.strip().splitlines()
        try:
            outcome = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            outcome = {"success": False, "checks": [], "steps": [f"crashed: {err[-500:]}"]}
        outcomes.append({"run": f"{name} {partition}", **outcome})
    return outcomes


# --- comparison ---------------------------------------------------------------------------------


def contents(url: str) -> dict[str, list[tuple]]:
    from benchmarks.harness import table_contents
    from sparkify_assets.warehouse.postgres import PostgresWarehouse

    return table_contents(PostgresWarehouse(url=url))


def differences(actual: dict, expected: dict) -> list[str]:
    found = []
    for name, rows in expected.items():
        if actual[name] != rows:
            extra = len(Counter(actual[name]) - Counter(rows))
            missing = len(Counter(rows) - Counter(actual[name]))
            found.append(
                f"{name}: {len(actual[name])} rows against {len(rows)} "
                f"({missing} missing, {extra} not in the clean load)"
            )
    return found


def copy_database(server, template: str, label: str) -> str:
    import psycopg2
    from psycopg2 import sql

    from sparkify_assets.warehouse import embedded

    name = f"overlap_{label}_{os.getpid()}"
    connection = psycopg2.connect(server.admin_dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        cursor.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name),
                sql.Identifier(psycopg2.extensions.parse_dsn(template)["dbname"]),
            )
        )
    connection.close()
    return embedded.ensure_running(server.home, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120_000, help="events over the 12 days")
    parser.add_argument("--songs", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--tries", type=int, default=1)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "sparkify-overlap"))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(_env(work))
    (work / "dagster_home").mkdir(exist_ok=True)
    (work / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    from benchmarks.harness import Server

    server = Server(work / "home")
    loaded, changed, notes = prepare(work, args.events, args.songs, args.seed)
    print("the source changes:\n  " + "\n  ".join(notes))
    base = server.fresh_database("loaded")
    started = time.perf_counter()
    sparkify_load(work, base, loaded)
    print(f"sparkify load of the 12 days: {time.perf_counter() - started:.1f} s")
    oracle = server.fresh_database("clean")
    sparkify_load(work, oracle, changed)
    expected = contents(oracle)
    print(f"clean load of the changed source: {sum(map(len, expected.values())):,} rows")

    bad_tries = 0
    for attempt in range(1, args.tries + 1):
        url = copy_database(server, base, f"try{attempt}")
        started = time.perf_counter()
        outcomes = run_at_once(work, url, changed)
        seconds = time.perf_counter() - started
        diff = differences(contents(url), expected)
        failed = [o for o in outcomes if not o["success"] or o["checks"]]
        ok = not diff and not failed
        bad_tries += not ok
        print(f"\ntry {attempt}: {'OK' if ok else 'WRONG'} ({seconds:.1f} s for the five runs)")
        for outcome in outcomes:
            state = "succeeded" if outcome["success"] else "FAILED"
            detail = "; ".join(
                part
                for part in (
                    "failed checks: " + ", ".join(outcome["checks"]) if outcome["checks"] else "",
                    "failed steps: " + ", ".join(outcome["steps"]) if outcome["steps"] else "",
                )
                if part
            )
            print(f"  {outcome['run']}: {state}{'; ' + detail if detail else ''}")
        print("  every table equals the clean load" if not diff else "  " + "\n  ".join(diff))
        server.drop(url)
    print(f"\n{args.tries - bad_tries} of {args.tries} tries right")
    return 1 if bad_tries else 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        sys.exit(main())

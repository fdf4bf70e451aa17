"""Upgrades by hand, measured: an older release's warehouse migrated by this one.

    python benchmarks/upgrade.py --from /tmp/old-c04            # a release in a git worktree
    python benchmarks/upgrade.py --analytics top_songs --events 1000000 --days 30 --songs 20000

``--from DIR``: generated data is loaded, all days but the last, by the release checked out in
DIR (``git worktree add DIR <commit>``; run as a subprocess with PYTHONPATH=DIR). This release
then prints ``sparkify plan``, migrates (timed), runs the schedule's ``load_day`` for the last day
and a song refresh, and every table is compared with a clean load of all days by this release.

``--analytics NAME``: a warehouse loaded by this release (timed: the full load), then NAME's
record made an older definition's (its SQL changed), as an upgrade that changed that one table
would leave it; the migration (timed) rebuilds that table alone.

Everything runs against one embedded PostgreSQL in WORK (default /tmp/sparkify-upgrade-bench),
each warehouse in its own database. It prints figures and asserts nothing.
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
from pathlib import Path

from psycopg2 import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.harness import Server, table_contents  # noqa: E402
from sparkify_assets.cli.load import run_load  # noqa: E402
from sparkify_assets.defs.automation import songs_run_request  # noqa: E402
from sparkify_assets.defs.location import build_definitions  # noqa: E402
from sparkify_assets.defs.resources import SparkifySource  # noqa: E402
from sparkify_assets.ingest.open import open_source  # noqa: E402
from sparkify_assets.sql import versions  # noqa: E402
from sparkify_assets.synthetic.generate import generate  # noqa: E402
from sparkify_assets.warehouse import migration  # noqa: E402
from sparkify_assets.warehouse.postgres import PostgresWarehouse  # noqa: E402

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def data_sets(work: Path, events: int, songs: int, days: int) -> tuple[Path, Path, str]:
    """All days, and all but the last (same files); the last day's partition key."""
    full = work / f"data-{events}-{songs}-{days}"
    if not full.exists():
        generate(full, events=events, songs=songs, days=days, seed=24)
    last = max(open_source(str(full)).event_files())
    before = work / f"{full.name}-before-last"
    if not before.exists():
        shutil.copytree(full, before)
        for file in before.glob(f"log_data/*/*/{last.isoformat()}-events*.json"):
            file.unlink()
    return full, before, last.isoformat()


def compare(upgraded: PostgresWarehouse, clean: PostgresWarehouse) -> int:
    ours, theirs = table_contents(upgraded), table_contents(clean)
    print(f"\n{'table':<22} {'upgraded':>10} {'clean load':>10}  same rows")
    differing = 0
    for name in theirs:
        same = ours[name] == theirs[name]
        differing += not same
        print(
            f"{name:<22} {len(ours[name]):>10,} {len(theirs[name]):>10,}  {'yes' if same else 'NO'}"
        )
    print(f"\n{len(theirs) - differing} of {len(theirs)} tables equal to a clean load")
    return differing


def from_release(args, server: Server, work: Path) -> None:
    full, before, last = data_sets(work, args.events, args.songs, args.days)
    old = PostgresWarehouse(url=server.fresh_database("old"))
    env = {
        **os.environ,
        "PYTHONPATH": str(args.release),
        "SPARKIFY_WAREHOUSE_URL": old.url,
        "SPARKIFY_DATA_URI": str(before),
        "DAGSTER_HOME": tempfile.mkdtemp(prefix="dagster-old-"),
    }
    started = time.monotonic()
    loaded = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli", "load"],  # the first release had no --quiet
        cwd=args.release,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    print(f"old release {args.release}: all days but {last} loaded in {seconds:.1f} s")
    if loaded.returncode:
        print(loaded.stdout[-2000:], loaded.stderr[-2000:])
        raise SystemExit(f"the old release's load failed (exit {loaded.returncode})")
    source = open_source(str(full))
    print("\n$ sparkify plan\n" + migration.plan(old, source).text() + "\n")
    done, seconds = migration.migrate(old, source, lambda line: print(f"  {line}"))
    print(f"\nmigration: {len(done.needed)} tables in {seconds:.2f} s")
    definitions = build_definitions({"warehouse": old, "source": SparkifySource(uri=str(full))})
    instance = None
    from dagster import DagsterInstance

    instance = DagsterInstance.ephemeral()
    day = definitions.resolve_job_def("load_day").execute_in_process(
        instance=instance, partition_key=last, run_config=QUIET, raise_on_error=False
    )
    request = songs_run_request("listing", None, sorted(source.event_files()))
    songs = definitions.resolve_job_def("refresh_songs").execute_in_process(
        instance=instance,
        run_config=QUIET,
        raise_on_error=False,
        **(
            {"partition_key": request.partition_key}
            if request.partition_key
            else {"asset_selection": request.asset_selection}
        ),
    )
    print(
        f"then load_day {last}: {'succeeded' if day.success else 'FAILED'}; "
        f"refresh_songs: {'succeeded' if songs.success else 'FAILED'}"
    )
    clean = PostgresWarehouse(url=server.fresh_database("clean"))
    report = run_load(
        build_definitions({"warehouse": clean, "source": SparkifySource(uri=str(full))}),
        str(full),
        full_refresh=True,
    )
    assert report.success, report.failures
    compare(old, clean)


def one_analytics_table(args, server: Server, work: Path) -> None:
    full, _, _ = data_sets(work, args.events, args.songs, args.days)
    warehouse = PostgresWarehouse(url=server.fresh_database("analytics"))
    definitions = build_definitions(
        {"warehouse": warehouse, "source": SparkifySource(uri=str(full))}
    )
    started = time.monotonic()
    report = run_load(definitions, str(full), full_refresh=True)
    load_seconds = time.monotonic() - started
    assert report.success, report.failures
    (definition,) = warehouse.query(
        sql.SQL("SELECT definition FROM table_versions WHERE table_name = {}").format(
            sql.Literal(args.analytics)
        )
    )[0]
    form = json.loads(definition)
    form["sql"] = form["sql"] + " -- an older release's SQL"
    with warehouse.transaction() as cursor:
        for statement in versions.record("public", args.analytics, "0" * 32, form, "2018-01-01"):
            cursor.execute(statement)
    source = open_source(str(full))
    print(migration.plan(warehouse, source).text() + "\n")
    done, seconds = migration.migrate(warehouse, source, lambda line: print(f"  {line}"))
    print(f"\n{args.events:,} events, {args.days} days, {args.songs:,} songs")
    print(f"full load (sparkify load's code path):        {load_seconds:8.2f} s")
    print(
        f"migration of {args.analytics} ({done.rows_to_rebuild:,} rows): {seconds:8.2f} s "
        f"({seconds / load_seconds:.1%} of the full load)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="release", type=Path, help="an older release's checkout")
    parser.add_argument("--analytics", help="migrate one changed analytics table")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--songs", type=int, default=300)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sparkify-upgrade-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="dagster-upgrade-"))
    Path(os.environ["DAGSTER_HOME"], "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = Server(args.work / "home")
    if args.release:
        from_release(args, server, args.work)
    elif args.analytics:
        one_analytics_table(args, server, args.work)
    else:
        parser.error("give --from DIR or --analytics NAME")


if __name__ == "__main__":
    main()

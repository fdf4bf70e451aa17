"""Benchmark: the staging loads alone, in-process, against PostgreSQL's COPY of the same rows.

    python benchmarks/staging.py                   # the bench.py data set (1M events, 20k songs)
    python benchmarks/staging.py --events 200000 --songs 5000
    py-spy record -o profile.svg -- python benchmarks/staging.py --skip-floor
    python benchmarks/staging.py --same-rows-as OTHER/staging-rows   # rows of another version

Each day of staging_events is loaded by ``PostgresWarehouse.stage_events_day`` into a brand-new
database, then staging_songs by ``stage_songs``, then the statistics refresh the asset runs
after them. For each stage it prints wall seconds, this process's CPU seconds and the server's.
The floor: PostgreSQL's ``COPY`` of the rows just loaded (dumped as COPY text) into the same
tables, indexes included, so what remains is the cost of reading and parsing the JSON. The rows
are left in WORK/staging-rows; ``--same-rows-as`` says whether they are byte for byte those of
another run (another version of the code, in physical order). It prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import sys
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench import DataSet, add_data_arguments, ensure_data  # noqa: E402
from benchmarks.harness import Server  # noqa: E402
from sparkify_assets.ingest.local import LocalSource  # noqa: E402
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS  # noqa: E402
from sparkify_assets.warehouse.postgres import PostgresWarehouse  # noqa: E402

COPY_BUFFER = 1 << 20


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stages:
    def __init__(self, server: Server):
        self.server = server
        self.rows: list[tuple[str, float, float, float]] = []

    def timed(self, stage: str, step):
        wall, cpu, server_cpu = time.perf_counter(), own_cpu(), self.server.cpu_seconds()
        value = step()
        time.sleep(0.05)  # let the server account its backend's CPU
        self.rows.append(
            (
                stage,
                time.perf_counter() - wall - 0.05,
                own_cpu() - cpu,
                self.server.cpu_seconds() - server_cpu,
            )
        )
        return value

    def print(self) -> None:
        print(f"  {'stage':<28} {'wall s':>7} {'python cpu':>10} {'server cpu':>10}")
        for stage, wall, cpu, server_cpu in self.rows:
            print(f"  {stage:<28} {wall:7.2f} {cpu:10.2f} {server_cpu:10.2f}")


def load(warehouse: PostgresWarehouse, data: Path, stages: Stages) -> None:
    source = LocalSource(data)
    warehouse.ensure_tables()
    days = sorted(source.event_files().items())

    def events() -> None:
        for day, files in days:
            warehouse.stage_events_day(source, day, files)

    stages.timed("staging_events (sparkify)", events)
    # Autovacuum's CPU counts as the server's: say when it ran during the measurement.
    print(
        "  autovacuum runs during the staging_events load:", autovacuum_counts(warehouse) or "none"
    )
    stages.timed("ANALYZE staging_events", lambda: warehouse.refresh_statistics(STAGING_EVENTS))
    stages.timed("staging_songs (sparkify)", lambda: warehouse.stage_songs(source, full=True))
    stages.timed("ANALYZE staging_songs", lambda: warehouse.refresh_statistics(STAGING_SONGS))


def autovacuum_counts(warehouse: PostgresWarehouse) -> list[tuple]:
    return warehouse.query(
        "SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
        " WHERE autovacuum_count + autoanalyze_count > 0"
    )


def dump(dsn: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        for table in (STAGING_EVENTS, STAGING_SONGS):
            with open(folder / f"{table.name}.tsv", "wb") as out:
                statement = sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table.name))
                cursor.copy_expert(statement, out)


def floor(dsn: str, folder: Path, stages: Stages) -> None:
    PostgresWarehouse(url=dsn).ensure_tables()
    connection = psycopg2.connect(dsn)

    def copy(table) -> None:
        with connection.cursor() as cursor, open(folder / f"{table.name}.tsv", "rb") as rows:
            statement = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table.name))
            cursor.copy_expert(statement, rows, COPY_BUFFER)
        connection.commit()

    try:
        stages.timed("COPY staging_events (floor)", lambda: copy(STAGING_EVENTS))
        stages.timed("COPY staging_songs (floor)", lambda: copy(STAGING_SONGS))
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--same-rows-as", type=Path, help="a staging-rows folder to compare with")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args(argv)

    work = args.work.resolve()
    data = ensure_data(work, DataSet(args.events, args.songs, args.days, args.seed))
    server = Server(work / "home")
    stages = Stages(server)
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    dsn = server.fresh_database("staging")
    try:
        load(PostgresWarehouse(url=dsn), data, stages)
        if not args.skip_floor:
            dump(dsn, work / "staging-rows")
    finally:
        server.drop(dsn)
    if not args.skip_floor:
        dsn = server.fresh_database("staging_floor")
        try:
            floor(dsn, work / "staging-rows", stages)
        finally:
            server.drop(dsn)
    stages.print()
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.same_rows_as and not args.skip_floor:
        for table in (STAGING_EVENTS, STAGING_SONGS):
            name = f"{table.name}.tsv"
            same = filecmp.cmp(
                work / "staging-rows" / name, args.same_rows_as / name, shallow=False
            )
            print(
                f"{table.name}: {'the same' if same else 'DIFFERENT'} rows as {args.same_rows_as}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: ``sparkify load`` against PostgreSQL's own floor, measured in one run.

    python benchmarks/bench.py                      # 1M events, 20k songs, 30 days, 3 repetitions
    python benchmarks/bench.py --events 100000 --repeat 5

What it does, all against one embedded PostgreSQL (``SPARKIFY_HOME`` = WORK/home):

1. ``sparkify generate`` writes the data (big, and a tiny set with the same days) into WORK/data,
   once per size; later runs reuse it.
2. Each repetition, each step in a brand-new database:
   - ``sparkify load`` on the tiny data, then on the big data, as subprocesses; *marginal* time is
     big minus tiny, so interpreter, Dagster and server start-up do not count;
   - the **plain floor** (``plain_floor``, the headline): PostgreSQL's own ``COPY`` of the same
     staging rows, already parsed, into key-less tables, then the star schema and the analytics
     tables in hand-written plain SQL; independent of the statements it judges;
   - the **replay floor**: the same COPY into this project's tables, then ANALYZE and this
     project's own build SQL, statement for statement (it cannot see slow statements).
3. It prints medians of every figure, both ratios marginal / floor, songs loaded per second, the
   peak RSS and the load average during the measurements, and writes them to WORK/results-*.json.

Peak memory, two ways:
- ``sparkify load`` process tree: the kernel's own peak (``ru_maxrss`` from ``wait4``), which is
  the largest single process of the tree; plus the peak *sum* over the tree, sampled every 50 ms.
- PostgreSQL: the postmaster and all its children (backends, checkpointer, ...) sampled every
  50 ms with psutil; the largest single process and the peak sum. A backend's RSS includes the
  shared_buffers pages it has touched, so the sum counts shared memory more than once.

It is a benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg2
from psycopg2 import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import plain_floor  # noqa: E402
from benchmarks.bench_report import report, summarize  # noqa: E402
from benchmarks.harness import Measurement, RssSampler, Server  # noqa: E402
from sparkify_assets.ingest.local import LocalSource  # noqa: E402
from sparkify_assets.sql import render  # noqa: E402
from sparkify_assets.sql.catalog import BUILT_TABLES  # noqa: E402
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS  # noqa: E402
from sparkify_assets.warehouse import plans  # noqa: E402
from sparkify_assets.warehouse.postgres import PostgresWarehouse  # noqa: E402

COPY_BUFFER = 1 << 20


# --- data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSet:
    events: int
    songs: int
    days: int
    seed: int

    @property
    def name(self) -> str:
        return f"events{self.events}-songs{self.songs}-days{self.days}-seed{self.seed}"


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The generated data set's options (``DataSet``), shared by the benchmarks."""
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)


def add_tiny_arguments(parser: argparse.ArgumentParser) -> None:
    """The tiny data set whose load is subtracted from the big one's (same days and seed)."""
    parser.add_argument("--tiny-events", type=int, default=1_000)
    parser.add_argument("--tiny-songs", type=int, default=100)


def data_sets(args: argparse.Namespace) -> tuple[DataSet, DataSet]:
    """The big and the tiny data set of the parsed arguments."""
    return (
        DataSet(args.events, args.songs, args.days, args.seed),
        DataSet(args.tiny_events, args.tiny_songs, args.days, args.seed),
    )


def console_command(script: str, module: str) -> list[str]:
    """A console script of this interpreter's environment, else ``python -m module``."""
    path = Path(sys.executable).with_name(script)
    return [str(path)] if path.exists() else [sys.executable, "-m", module]


def sparkify_command() -> list[str]:
    return console_command("sparkify", "sparkify_assets.cli.main")


def ensure_data(work: Path, data: DataSet) -> Path:
    """Generate the data set with ``sparkify generate`` unless a finished copy is there."""
    folder = work / "data" / data.name
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {data.name} ...", flush=True)
        subprocess.run(
            [
                *sparkify_command(),
                "generate",
                str(folder),
                "--events",
                str(data.events),
                "--songs",
                str(data.songs),
                "--days",
                str(data.days),
                "--seed",
                str(data.seed),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        done.touch()
    return folder


def day_window(folder: Path) -> tuple[date, date]:
    days = sorted(LocalSource(folder).event_files())
    return days[0], days[-1] + timedelta(days=1)


def song_file_count(folder: Path) -> int:
    return sum(1 for _ in (folder / "song_data").rglob("*.json"))


# --- one project run ------------------------------------------------------------------------
def step_seconds(dagster_home: Path, run_id: str) -> dict[str, float]:
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with DagsterInstance.get() as instance:
        return {
            stat.step_key: stat.end_time - stat.start_time
            for stat in instance.get_run_step_stats(run_id)
            if stat.start_time and stat.end_time
        }


def project_env(server: Server, dsn: str, data: Path, dagster_home: Path) -> dict[str, str]:
    """The environment of a load of ``data`` into ``dsn``, with its own Dagster instance."""
    dagster_home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    return dict(
        os.environ,
        SPARKIFY_WAREHOUSE_URL=dsn,
        SPARKIFY_DATA_URI=str(data),
        SPARKIFY_HOME=str(server.home),
        DAGSTER_HOME=str(dagster_home),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )


def run_project(server: Server, data: Path, work: Path) -> tuple[Measurement, str]:
    dsn = server.fresh_database("project")
    dagster_home = work / "dagster_home"
    env = project_env(server, dsn, data, dagster_home)
    output = work / "last-load.txt"
    load_average = os.getloadavg()[0]
    server_cpu = server.cpu_seconds()
    with open(output, "w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*sparkify_command(), "load"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        sampler = RssSampler({"sparkify": process.pid, "postgres": server.postmaster})
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    peaks = sampler.stop()
    server_cpu = server.cpu_seconds() - server_cpu
    report = output.read_text()
    if process.returncode != 0:
        raise SystemExit(f"sparkify load failed ({process.returncode}):\n{report}")
    run_id = report.split()[1].rstrip(":")
    measurement = Measurement(
        seconds,
        step_seconds(dagster_home, run_id),
        peaks,
        usage.ru_maxrss * 1024,
        usage.ru_utime + usage.ru_stime,
        server_cpu,
        load_average,
    )
    return measurement, dsn


# --- the floor ------------------------------------------------------------------------------
def dump_staging(dsn: str, folder: Path) -> None:
    """The staging rows exactly as loaded, as COPY text: the floor's pre-parsed input."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = psycopg2.connect(dsn)
    with connection.cursor() as cursor:
        for table in (STAGING_EVENTS, STAGING_SONGS):
            with open(folder / f"{table.name}.tsv", "w") as out:
                cursor.copy_expert(
                    sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table.name)), out
                )
    connection.close()
    (folder / ".complete").touch()


def measured_on_server(server: Server, label: str, work) -> Measurement:
    """Run ``work(dsn, timed)`` in a fresh database; each ``timed(stage, step)`` is one stage."""
    dsn = server.fresh_database(label)
    stages: dict[str, float] = {}
    load_average = os.getloadavg()[0]
    server_cpu = server.cpu_seconds()
    sampler = RssSampler({"postgres": server.postmaster})
    sampler.start()

    def timed(stage: str, step) -> None:
        started = time.perf_counter()
        step()
        stages[stage] = time.perf_counter() - started

    work(dsn, timed)
    peaks = sampler.stop()
    time.sleep(0.2)  # let the postmaster reap the backend, so its CPU is counted
    server_cpu = server.cpu_seconds() - server_cpu
    server.drop(dsn)
    return Measurement(
        sum(stages.values()),
        stages,
        peaks,
        server_cpu_seconds=server_cpu,
        load_average=load_average,
    )


def run_floor(server: Server, rows: Path, window: tuple[date, date]) -> Measurement:
    """COPY the pre-parsed rows, ANALYZE, then the same build SQL: what PostgreSQL needs anyway."""

    def replay(dsn: str, timed) -> None:
        warehouse = PostgresWarehouse(url=dsn)
        warehouse.ensure_tables()  # the same tables, indexes included

        def run(statements):
            # A session per step, as each step of a load has: a build's snapshot is a temp table.
            def step() -> None:
                with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
                    for statement in statements:
                        if isinstance(statement, Path):
                            with open(statement, "rb") as source:
                                copy = sql.SQL("COPY {} FROM STDIN").format(
                                    sql.Identifier(statement.stem)
                                )
                                cursor.copy_expert(copy, source, COPY_BUFFER)
                        else:
                            cursor.execute(statement)
                connection.close()

            return step

        staging = (STAGING_EVENTS, STAGING_SONGS)
        for table in staging:
            timed(f"COPY {table.name}", run([rows / f"{table.name}.tsv"]))
        timed("ANALYZE staging", run([render.analyze(table, "public") for table in staging]))
        for table in BUILT_TABLES:  # the star schema, then the analytics tables, in run order
            # What a first load's build runs: its head (the snapshot of its pending rows, which
            # the full rebuild's statements read) and the body that finds nothing pending.
            head = plans.build_head(warehouse, table)
            body, _ = plans.build_body(warehouse, table, None, True, plans.NOTHING_PENDING, "floor")
            timed(table.name, run([*head, *body]))

    return measured_on_server(server, "floor", replay)


def run_plain_floor(server: Server, rows: Path) -> Measurement:
    """The hand-written plain SQL of ``plain_floor``: a floor independent of the project's SQL."""
    return measured_on_server(server, "plain", lambda dsn, timed: plain_floor.run(dsn, rows, timed))


# --- report ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    add_tiny_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--work",
        type=Path,
        default=REPO / "benchmarks" / "out",
        help="data, server and results (default: benchmarks/out)",
    )
    args = parser.parse_args(argv)

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    big_data, tiny_data = data_sets(args)
    big = ensure_data(work, big_data)
    tiny = ensure_data(work, tiny_data)
    songs = song_file_count(big)
    window = day_window(big)
    server = Server(work / "home")
    rows = work / "rows" / big_data.name
    plain_rows = work / "plain-rows" / big_data.name

    big_runs, tiny_runs, floor_runs, plain_runs = [], [], [], []
    for repetition in range(1, args.repeat + 1):
        print(
            f"repetition {repetition}/{args.repeat}: load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        # The floor needs the rows of a first big load; after that, it alternates between going
        # first and last, so a change in the machine's load does not favour one side.
        floor_first = (rows / ".complete").exists() and repetition % 2 == 0
        if floor_first:
            floor_runs.append(run_floor(server, rows, window))
            plain_runs.append(run_plain_floor(server, plain_rows))
        measurement, dsn = run_project(server, tiny, work)
        server.drop(dsn)
        tiny_runs.append(measurement)
        measurement, dsn = run_project(server, big, work)
        if not (rows / ".complete").exists():
            dump_staging(dsn, rows)
        if not (plain_rows / ".complete").exists():
            plain_floor.dump_rows(dsn, plain_rows)
        server.drop(dsn)
        big_runs.append(measurement)
        if not floor_first:
            floor_runs.append(run_floor(server, rows, window))
            plain_runs.append(run_plain_floor(server, plain_rows))
        print(
            f"  sparkify load {big_runs[-1].seconds:.2f} s, tiny {tiny_runs[-1].seconds:.2f} s,"
            f" replay floor {floor_runs[-1].seconds:.2f} s,"
            f" plain floor {plain_runs[-1].seconds:.2f} s",
            flush=True,
        )

    summary = summarize(args, big_runs, tiny_runs, floor_runs, plain_runs, songs)
    report(summary)
    (work / f"results-{big_data.name}.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

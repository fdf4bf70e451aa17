"""Benchmark: what running two of the load's steps at a time would change, and what it costs.

    python benchmarks/overlap.py                 # the bench.py data set (1M events, 20k songs)
    python benchmarks/overlap.py --repeat 3

``sparkify load`` runs its steps one after another, in its own process. This runs the same job
(``load_everything``, every day of the data) both ways, each into a brand-new database of one
embedded server, on the tiny and the big data set:

- ``sparkify load``;
- ``dagster job execute`` with Dagster's multiprocess executor, two steps at a time, each step in
  a process forked from a server that has the definitions imported already.

It prints each run's wall seconds and, per way, the marginal time (big - tiny). The multiprocess
way overlaps independent steps (a build with the previous table's checks), which lowers the
marginal, but every step pays for a process of its own, which shows in the tiny run. It prints
figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench import (  # noqa: E402
    add_data_arguments,
    add_tiny_arguments,
    console_command,
    data_sets,
    day_window,
    ensure_data,
    project_env,
    sparkify_command,
)
from benchmarks.harness import Server, median  # noqa: E402
from sparkify_assets.defs.dagster_internals import (  # noqa: E402
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

MULTIPROCESS = {
    "execution": {
        "config": {
            "multiprocess": {
                "max_concurrent": 2,
                "start_method": {
                    "forkserver": {"preload_modules": ["sparkify_assets.definitions"]}
                },
            }
        }
    },
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}


def multiprocess_command(data: Path, work: Path) -> list[str]:
    first, end = day_window(data)
    config = work / "multiprocess.json"
    config.write_text(json.dumps(MULTIPROCESS))
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: (end - timedelta(days=1)).isoformat(),
    }
    return [
        *console_command("dagster", "dagster"),
        *("job", "execute", "-m", "sparkify_assets.definitions", "-j", "load_everything"),
        *("--tags", json.dumps(tags), "-c", str(config)),
    ]


def timed_run(server: Server, command: list[str], data: Path, work: Path) -> float:
    dsn = server.fresh_database("overlap")
    env = project_env(server, dsn, data, work / "dagster_home_overlap")
    try:
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    finally:
        server.drop(dsn)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    add_tiny_arguments(parser)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args(argv)

    work = args.work.resolve()
    big, tiny = data_sets(args)
    sizes = {"tiny": ensure_data(work, tiny), "big": ensure_data(work, big)}
    server = Server(work / "home")
    ways = {
        "sparkify load": lambda data: [*sparkify_command(), "load"],
        "multiprocess, 2 at a time": lambda data: multiprocess_command(data, work),
    }
    seconds: dict[tuple[str, str], list[float]] = {}
    for repetition in range(args.repeat):
        print(f"repetition {repetition + 1}/{args.repeat}: load average {os.getloadavg()[0]:.1f}")
        for way, command in ways.items():
            for size, data in sizes.items():
                value = timed_run(server, command(data), data, work)
                seconds.setdefault((way, size), []).append(value)
                print(f"  {way:<28} {size:<5} {value:6.2f} s", flush=True)

    print(f"\nmedians (seconds), {args.repeat} repetition(s)")
    print(f"  {'':<28} {'tiny':>6} {'big':>6} {'marginal':>9}")
    for way in ways:
        tiny, big = median(seconds[way, "tiny"]), median(seconds[way, "big"])
        print(f"  {way:<28} {tiny:6.2f} {big:6.2f} {big - tiny:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmarks share: one embedded PostgreSQL, fresh databases, RSS and CPU sampling."""

from __future__ import annotations

import os
import statistics
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import sql

from sparkify_assets.sql import catalog
from sparkify_assets.warehouse import embedded

MIB = 1 << 20
SAMPLE_SECONDS = 0.05


@dataclass
class Peak:
    largest: int = 0  # bytes, the largest single process seen
    total: int = 0  # bytes, the largest sum over the group seen


@dataclass
class Measurement:
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, Peak] = field(default_factory=dict)
    max_rss_kernel: int = 0  # bytes; ru_maxrss of the sparkify process tree
    cpu_seconds: float = 0.0  # the sparkify process tree
    server_cpu_seconds: float = 0.0  # PostgreSQL, every process
    load_average: float = 0.0


class RssSampler(threading.Thread):
    """Samples the RSS of process groups (a root pid and all its descendants) every 50 ms."""

    def __init__(self, roots: dict[str, int]):
        super().__init__(daemon=True)
        self.roots = roots
        self.peaks = {name: Peak() for name in roots}
        self._done = threading.Event()

    def _sample(self, name: str, pid: int) -> None:
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        sizes = []
        for process in processes:
            try:
                sizes.append(process.memory_info().rss)
            except psutil.Error:
                continue
        peak = self.peaks[name]
        peak.largest = max(peak.largest, max(sizes, default=0))
        peak.total = max(peak.total, sum(sizes))

    def run(self) -> None:
        while not self._done.is_set():
            for name, pid in self.roots.items():
                self._sample(name, pid)
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> dict[str, Peak]:
        self._done.set()
        self.join()
        return self.peaks


class Server:
    def __init__(self, home: Path):
        self.home = home
        self.admin_dsn = embedded.ensure_running(home, "postgres")
        self.postmaster = embedded.status(home).pid
        self._numbers = iter(range(1_000_000))

    def cpu_seconds(self) -> float:
        """CPU used by the server so far: the postmaster, its live children, and the children it
        has reaped (backends end with their connection; the kernel adds them to the parent)."""
        postmaster = psutil.Process(self.postmaster)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            try:
                child_times = child.cpu_times()
            except psutil.Error:
                continue
            total += child_times.user + child_times.system
        return total

    def fresh_database(self, label: str) -> str:
        name = f"bench_{label}_{os.getpid()}_{next(self._numbers)}"
        return embedded.ensure_running(self.home, name)

    def drop(self, dsn: str) -> None:
        name = psycopg2.extensions.parse_dsn(dsn)["dbname"]
        connection = psycopg2.connect(self.admin_dsn)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        connection.close()


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def spread(values) -> str:
    values = sorted(values)
    return " ".join(f"{value:.2f}" for value in values)


def print_table(title: str, rows: list[tuple[str, list[float]]]) -> None:
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    print(f"  {'':<{width}}  {'median':>8}  runs")
    for name, values in rows:
        print(f"  {name:<{width}}  {median(values):8.2f}  {spread(values)}")


def table_contents(warehouse) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, without their load time: what two warehouses are compared on."""
    tables = {}
    for table in catalog.ALL_TABLES:
        columns = [c for c in table.column_names if c != "loaded_at"]
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), warehouse.table(table.name)
        )
        tables[table.name] = sorted(warehouse.query(query), key=repr)
    return tables

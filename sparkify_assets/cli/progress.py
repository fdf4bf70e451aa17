"""What ``sparkify load`` knows and shows while its run goes: finished steps, committed days.

``RunTracker`` listens to the run's Dagster events as they are stored (on the thread running the
run, so nothing is polled). It keeps what is committed (every finished step; every day a staging
step reported done) for the line an interrupt prints, and feeds ``LiveProgress``: one line per
finished step (asset, days, rows, seconds), one per staged day, and a progress bar, on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from dagster import DagsterEventType, EventLogEntry

from sparkify_assets.core.interrupts import signal_name
from sparkify_assets.defs.progress import parse_day_done

INTERRUPT_ERRORS = {"DagsterExecutionInterruptedError", "KeyboardInterrupt", "Interrupted"}


@dataclass
class StepFigures:
    """One finished step: the partitions it materialized and their rows."""

    step: str
    seconds: float = 0.0
    days: list[str] = field(default_factory=list)
    rows: int | None = None


@dataclass
class RunTracker:
    """The run as the events tell it (see the module docstring)."""

    total_steps: int = 0
    run_days: int = 0
    on_line: Callable[[str], None] | None = None
    on_step: Callable[[str], None] | None = None
    finished: list[StepFigures] = field(default_factory=list)
    days_done: dict[str, list[str]] = field(default_factory=dict)  # step -> committed days
    running: StepFigures | None = None
    interrupted_step: str | None = None
    on_interrupt: Callable[[], None] | None = None

    def on_event(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            self._on_message(entry)
        elif event.event_type == DagsterEventType.STEP_START:
            self.running = StepFigures(event.step_key)
            if self.on_step:
                self.on_step(event.step_key)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            self._on_materialization(event)
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            self._on_success(event)
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            if error is not None and error.cls_name in INTERRUPT_ERRORS:
                self.interrupted_step = event.step_key
                if self.on_interrupt:
                    self.on_interrupt()
            self.running = None
            if self.on_step:
                self.on_step("")

    def _on_message(self, entry: EventLogEntry) -> None:
        done = parse_day_done(entry.user_message or "")
        if done is None or not entry.step_key:
            return
        self.days_done.setdefault(entry.step_key, []).append(done.day)
        if self.on_line:
            self.on_line(
                f"  {entry.step_key:<24} {done.day}  {done.rows:>12,} rows  {done.seconds:>7.2f} s"
            )

    def _on_materialization(self, event) -> None:
        if self.running is None:
            return
        metadata = event.step_materialization_data.materialization.metadata
        key = "dagster/partition_row_count" if event.partition else "dagster/row_count"
        rows = metadata.get(key)
        if event.partition:
            self.running.days.append(event.partition)
        if rows is not None:
            self.running.rows = (self.running.rows or 0) + rows.value

    def _on_success(self, event) -> None:
        figures = self.running if self.running and self.running.step == event.step_key else None
        figures = figures or StepFigures(event.step_key)
        figures.seconds = event.event_specific_data.duration_ms / 1000
        self.finished.append(figures)
        self.running = None
        if self.on_line and figures.rows is not None:  # checks materialize nothing
            days = f"{len(figures.days)} day{'s' if len(figures.days) != 1 else ''}"
            self.on_line(
                f"  {figures.step:<24} {days if figures.days else '':<10}  "
                f"{figures.rows:>12,} rows  {figures.seconds:>7.2f} s"
            )
        if self.on_step:
            self.on_step("")

    # --- what an interrupt leaves ------------------------------------------------------------
    def committed(self) -> list[str]:
        """The tables (and days) that are committed, in the order they were."""
        names = []
        for figures in self.finished:
            if figures.rows is None:
                continue  # an asset-check step writes nothing
            names.append(
                f"{figures.step} ({len(figures.days)} days)" if figures.days else figures.step
            )
        return names

    def interruption(self, signum: int) -> str:
        """The one line an interrupted load ends with."""
        step = self.interrupted_step or (self.running.step if self.running else None)
        committed = self.committed()
        days = self.days_done.get(step or "", [])
        if days:  # staging commits day by day
            committed.append(f"{step} {days[0]} .. {days[-1]} ({len(days)} days)")
        where = f"during {step}" if step else "before any step ran"
        return (
            f"sparkify: interrupted by {signal_name(signum)} {where}; committed: "
            f"{', '.join(committed) or 'nothing'}; the rest was rolled back. Run `sparkify load` "
            "again to finish the load."
        )


class LiveProgress:
    """Step lines and a progress bar on the terminal (rich); nothing when switched off."""

    def __init__(self, enabled: bool, total_steps: int):
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._total = total_steps

    def __enter__(self) -> LiveProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description:<24}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=sys.stdout),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("starting", total=self._total)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._progress is not None:
            self._progress.stop()

    def line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)

    def step(self, name: str) -> None:
        """A step started (its name) or ended (empty)."""
        if self._progress is None:
            return
        if name:
            self._progress.update(self._task, description=name)
        else:
            self._progress.advance(self._task)
